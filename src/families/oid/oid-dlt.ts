import { OidDltTxInvalid } from '../../errors.js';

/**
 * ITU-T Y.4476 (OID-based resolution for transactions of distributed ledgers assigned to IoT
 * resources): an arc may stand for one ledger transaction. Its record then carries one `DLT.TX`
 * value, JSON text `{"chain", "txHash", "block"?, "contract"?, "time"?}`:
 *
 *   chain     CAIP-2 chain id: namespace [-a-z0-9]{3,8} ":" reference [-_a-zA-Z0-9]{1,32}
 *   txHash    [-_a-zA-Z0-9]{1,128}; under `eip155:*` "0x" and 64 hex digits, stored lower-case
 *             (other chains' hashes, base58 for instance, are case-sensitive and kept as given)
 *   block     integer >= 0 (a JS safe integer)
 *   contract  printable ASCII without spaces, at most 256 characters (an address, a CAIP-10 id)
 *   time      ISO-8601 date and time with a zone (Z or +hh:mm), e.g. 2025-01-31T12:00:00Z
 *
 * A transaction identifies one arc: chain and hash are indexed and unique among active arcs.
 */
export interface DltTx {
  readonly chain: string;
  readonly txHash: string;
  readonly block?: number;
  readonly contract?: string;
  readonly time?: string;
}

export const DLT_TX_TYPE = 'DLT.TX';

const CHAIN = /^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}$/;
const TX_HASH = /^[-_a-zA-Z0-9]{1,128}$/;
const EIP155_TX_HASH = /^0x[0-9a-fA-F]{64}$/;
const CONTRACT = /^[\u0021-\u007e]{1,256}$/;
const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/;
const KEYS = new Set(['chain', 'txHash', 'block', 'contract', 'time']);

const invalid = (message: string): OidDltTxInvalid => new OidDltTxInvalid(message);

/** Checks chain and hash; answers the hash in its stored form. */
function checkRef(chain: unknown, txHash: unknown): { chain: string; txHash: string } {
  if (typeof chain !== 'string' || !CHAIN.test(chain)) throw invalid(`dltTx chain must be a CAIP-2 chain id such as "eip155:1"`);
  if (typeof txHash !== 'string' || !TX_HASH.test(txHash)) throw invalid('dltTx txHash must be 1 to 128 characters of letters, digits, "-" and "_"');
  if (chain.startsWith('eip155:')) {
    if (!EIP155_TX_HASH.test(txHash)) throw invalid('An eip155 txHash is "0x" and 64 hex digits');
    return { chain, txHash: txHash.toLowerCase() };
  }
  return { chain, txHash };
}

function checkTime(time: string): boolean {
  const m = TIME.exec(time);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate(); // days in `month` of `year`
  const zoneOk = m[8] === 'Z' || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
  return month >= 1 && month <= 12 && day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59 && zoneOk;
}

/** The `dltTx` member of a PUT body. */
export function parseDltTx(x: unknown): DltTx {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw invalid('dltTx must be {"chain": "eip155:1", "txHash": "0x..."}');
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.has(k)) throw invalid(`dltTx has an unknown member "${k}"`);
  const ref = checkRef(o.chain, o.txHash);
  if (o.block !== undefined && !(typeof o.block === 'number' && Number.isSafeInteger(o.block) && o.block >= 0)) throw invalid('dltTx block must be an integer of 0 or more');
  if (o.contract !== undefined && !(typeof o.contract === 'string' && CONTRACT.test(o.contract))) throw invalid('dltTx contract must be printable ASCII without spaces, at most 256 characters');
  if (o.time !== undefined && !(typeof o.time === 'string' && checkTime(o.time))) throw invalid('dltTx time must be an ISO-8601 date and time with a zone, e.g. 2025-01-31T12:00:00Z');
  return {
    ...ref,
    ...(o.block !== undefined ? { block: o.block as number } : {}),
    ...(o.contract !== undefined ? { contract: o.contract as string } : {}),
    ...(o.time !== undefined ? { time: o.time as string } : {}),
  };
}

/** `<chain>:<txHash>` as in `?dltTx=eip155:1:0x...`: the chain is the first two colon-separated parts. */
export function parseDltTxRef(text: string): { chain: string; txHash: string } {
  const parts = text.split(':');
  if (parts.length < 3) throw invalid('dltTx is <chain>:<txHash>, e.g. eip155:1:0x...');
  return checkRef(`${parts[0]}:${parts[1]}`, parts.slice(2).join(':'));
}

/** Index term of a transaction (the store appends `00 <record key>`). */
export function dltTxTerm(ref: { chain: string; txHash: string }): string {
  return `oiddlt\u0000${ref.chain}\u0000${ref.txHash}`;
}
