import { recordKeyOf } from './locate.js';
import type { ConsistencyProof, InclusionProof, TransparencyLog } from './transparency-log.js';

/** Proofs as JSON answers carry them: hashes and leaf data in base64 (standard alphabet). */
export interface InclusionProofJson {
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly rootHash: string;
  readonly leaf: {
    /** The leaf data (src/log/leaf.ts); its RFC 9162 leaf hash is SHA-256(0x00 || data). */
    readonly data: string;
    readonly hash: string;
    readonly seq: number;
    readonly at: number;
    readonly op: string;
    readonly family: string;
    readonly id: string;
    readonly version: number;
    /** "sha-256:" + base64url, as a verdict token's digest claim; null for an unsigned version. */
    readonly digest: string | null;
  };
  readonly auditPath: string[];
}

export interface ConsistencyProofJson {
  readonly first: number;
  readonly second: number;
  readonly firstRootHash: string;
  readonly secondRootHash: string;
  readonly consistencyPath: string[];
}

const b64 = (b: Buffer): string => b.toString('base64');

export function inclusionJson(proof: InclusionProof): InclusionProofJson {
  const { leaf } = proof;
  return {
    leafIndex: proof.leafIndex,
    treeSize: proof.treeSize,
    rootHash: b64(proof.rootHash),
    leaf: {
      data: b64(leaf.data),
      hash: b64(leaf.hash),
      seq: leaf.seq,
      at: leaf.at,
      op: leaf.op,
      family: leaf.family,
      id: leaf.id,
      version: leaf.version,
      digest: leaf.digest === undefined ? null : `sha-256:${leaf.digest.toString('base64url')}`,
    },
    auditPath: proof.auditPath.map(b64),
  };
}

export function consistencyJson(proof: ConsistencyProof): ConsistencyProofJson {
  return {
    first: proof.first,
    second: proof.second,
    firstRootHash: b64(proof.firstRootHash),
    secondRootHash: b64(proof.secondRootHash),
    consistencyPath: proof.consistencyPath.map(b64),
  };
}

/**
 * The inclusion proof of a record version's change-log entry, by identifier text (`hdl:`/bare
 * handle, `urn:oid:`, `its:sign:`, ...), against the current tree: for a verification verdict to
 * carry the proof of an item's registration (version 1) or of the version it judged.
 * Throws ERR_LOG_ENTRY_NOT_FOUND when that version is not logged (yet).
 */
export async function inclusionProofOf(log: TransparencyLog, id: string, version?: number, treeSize?: number): Promise<InclusionProofJson> {
  return inclusionJson(await log.inclusion(recordKeyOf(id), version, treeSize, id));
}
