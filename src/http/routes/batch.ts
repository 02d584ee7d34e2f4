import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { BodyInvalid, CairnError, IdempotencyKeyInvalid, IdempotencyKeyReused } from '../../errors.js';
import type { Principal } from '../../families/doa/authorize.js';
import { HandleService, type HandleServiceOptions } from '../../families/doa/handle-service.js';
import { formatIdentity } from '../../families/doa/identity.js';
import { MAX_VALUE_INDEX } from '../../records/value.js';
import type { Service } from '../../service/bootstrap.js';
import type { RecordStore, RecordWrite } from '../../store/store.js';
import { requirePrincipal } from '../auth.js';
import { errorsFor, problem } from '../schemas.js';

/**
 * `POST /api/batch`: several handle writes applied all or nothing.
 *
 *   [{"op": "put", "handle": "20.5000/a", "values": [...], "index"?: [1, 2], "overwrite"?: true},
 *    {"op": "delete", "handle": "20.5000/b", "index"?: [3], "reason"?: "...", "successor"?: "..."}]
 *
 * Each operation means what the single-handle request means (`PUT` / `DELETE /api/handles/{h}`
 * with `index=`, `overwrite=`, `reason=`, `successor=`) and is authorised the same way, for the
 * caller's identity. Operations apply in order, each seeing the ones before it (a put then an
 * index edit of the same handle works). If any fails, nothing is stored and the error names the
 * operation (`item`, its position from 0) and keeps that operation's own code and status.
 *
 * How it stays one batch: the operations run through HandleService's own `put` and `remove`, on
 * an instance whose store is a staging view of the real one (below): its `commit` collects the
 * writes instead of writing them, and its `findRecord` answers from what was collected so far.
 * The collected writes (records, views, index terms, history, change-log entries) then go to
 * LevelDB in one `commit`, under the store's write lock held for the whole batch. HandleService's
 * only batch method, `importBatch`, is the offline importer (service admin, no deletes, no
 * per-value permission checks), so it does not fit; this way every rule of the single writes
 * applies unchanged.
 *
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): the first successful answer is
 * stored with the writes, in the same batch, keyed by the caller's identity and the key, with a
 * fingerprint of the body. Repeating the request within 24 hours returns that answer again
 * (`Idempotent-Replayed: true`) and writes nothing; the same key with a different body is
 * refused (422, ERR_IDEMPOTENCY_KEY_REUSED). A failed batch stores nothing, its key included, so
 * it may be retried once corrected.
 */
export const MAX_BATCH_OPERATIONS = 1000;
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600;
const IDEMPOTENCY_META = 'batchIdempotency:';

interface Operation {
  readonly op: 'put' | 'delete';
  readonly handle: string;
  readonly values?: readonly unknown[];
  readonly index?: readonly number[];
  readonly overwrite?: boolean;
  readonly reason?: string;
  readonly successor?: string;
}

interface ItemResult {
  readonly item: number;
  readonly op: Operation['op'];
  readonly handle: string;
  readonly status: 200 | 201;
  readonly responseCode: 1;
}

interface StoredAnswer {
  readonly fingerprint: string;
  readonly at: number;
  readonly status: number;
  readonly body: unknown;
}

const KEYS: Readonly<Record<Operation['op'], ReadonlySet<string>>> = {
  put: new Set(['op', 'handle', 'values', 'index', 'overwrite']),
  delete: new Set(['op', 'handle', 'index', 'reason', 'successor']),
};

function itemInvalid(i: number, message: string): BodyInvalid {
  return new BodyInvalid(`operations[${i}]: ${message}`, { item: i });
}

function parseOperations(body: unknown): Operation[] {
  if (!Array.isArray(body)) throw new BodyInvalid('Body must be an array of operations [{"op": "put"|"delete", "handle": ..., ...}]');
  if (body.length === 0) throw new BodyInvalid('The batch has no operations');
  if (body.length > MAX_BATCH_OPERATIONS) throw new BodyInvalid(`A batch holds at most ${MAX_BATCH_OPERATIONS} operations, not ${body.length}`);
  return body.map((raw, i): Operation => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw itemInvalid(i, 'must be an object');
    const o = raw as Record<string, unknown>;
    if (o.op !== 'put' && o.op !== 'delete') throw itemInvalid(i, '"op" must be "put" or "delete"');
    const extra = Object.keys(o).find((k) => !KEYS[o.op as Operation['op']].has(k));
    if (extra !== undefined) throw itemInvalid(i, `"${extra}" is not a field of a ${o.op} operation`);
    if (typeof o.handle !== 'string' || o.handle.length === 0) throw itemInvalid(i, '"handle" must be a non-empty string');
    let index: number[] | undefined;
    if (o.index !== undefined) {
      const list = Array.isArray(o.index) ? o.index : [o.index];
      if (list.length === 0 || !list.every((n) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_VALUE_INDEX)) {
        throw itemInvalid(i, '"index" must be a value index or a non-empty array of them');
      }
      index = list as number[];
    }
    if (o.op === 'put') {
      if (!Array.isArray(o.values)) throw itemInvalid(i, '"values" must be an array of values');
      if (o.overwrite !== undefined && typeof o.overwrite !== 'boolean') throw itemInvalid(i, '"overwrite" must be true or false');
      return { op: 'put', handle: o.handle, values: o.values, ...(index ? { index } : {}), ...(o.overwrite !== undefined ? { overwrite: o.overwrite } : {}) };
    }
    for (const k of ['reason', 'successor'] as const) {
      if (o[k] !== undefined && (typeof o[k] !== 'string' || o[k] === '')) throw itemInvalid(i, `"${k}" must be a non-empty string`);
    }
    return {
      op: 'delete',
      handle: o.handle,
      ...(index ? { index } : {}),
      ...(o.reason !== undefined ? { reason: o.reason as string } : {}),
      ...(o.successor !== undefined ? { successor: o.successor as string } : {}),
    };
  });
}

/** The header's key: 1 to 255 visible ASCII characters, bare or as a structured-field string. */
function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new IdempotencyKeyInvalid('Give one Idempotency-Key header');
  const bare = /^"[^"\\]*"$/.test(header) ? header.slice(1, -1) : header;
  if (!/^[\x21-\x7e]{1,255}$/.test(bare)) throw new IdempotencyKeyInvalid('Idempotency-Key must be 1 to 255 visible ASCII characters');
  return bare;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The store as the batch's operations see it: reads fall through to LevelDB unless the batch has
 * already written the key; `exclusive` runs inline (the batch holds the real lock); `commit`
 * collects. Everything else is the real store.
 */
class Staging {
  readonly writes: RecordWrite[] = [];
  readonly store: RecordStore;
  private readonly latest = new Map<string, RecordWrite>();

  constructor(real: RecordStore) {
    const { writes, latest } = this;
    const staged: Partial<Record<keyof RecordStore, unknown>> = {
      exclusive: <T>(fn: () => Promise<T>): Promise<T> => fn(),
      commit: async (ws: readonly RecordWrite[], meta: Readonly<Record<string, unknown>> = {}) => {
        if (Object.keys(meta).length > 0) throw new Error('A staged commit cannot carry meta entries');
        for (const w of ws) {
          writes.push(w);
          latest.set(w.key, w);
        }
        return [];
      },
      findRecord: (key: string) => latest.get(key)?.record ?? real.findRecord(key),
      findView: (key: string) => {
        const w = latest.get(key);
        if (!w) return real.findView(key);
        const view = Buffer.allocUnsafe(2 + w.view.body.length);
        view.writeUInt16BE(w.view.status, 0);
        w.view.body.copy(view, 2);
        return view;
      },
    };
    this.store = new Proxy(real, {
      get(target, prop) {
        if (Object.hasOwn(staged, prop)) return staged[prop as keyof RecordStore];
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }
}

/**
 * The same service (signer, options) over the staging view, so that everything it reads while
 * checking an operation (the record, its prefix record, HS_VLIST groups through `liveValues`)
 * includes what earlier operations of the batch wrote. HandleService keeps its options private:
 * they are read here, the one place that needs a second instance.
 */
function stagedHandles(handles: HandleService, store: RecordStore): HandleService {
  const { options } = handles as unknown as { readonly options: HandleServiceOptions };
  return new HandleService(store, handles.signer, options);
}

async function apply(handles: HandleService, op: Operation, item: number, who: Principal): Promise<ItemResult> {
  if (op.op === 'put') {
    const r = await handles.put(op.handle, { values: op.values ?? [], overwrite: op.overwrite ?? true, ...(op.index ? { indexes: op.index } : {}) }, who);
    return { item, op: 'put', handle: r.handle, status: r.created ? 201 : 200, responseCode: 1 };
  }
  const tomb = { ...(op.reason ? { reason: op.reason } : {}), ...(op.successor ? { successor: op.successor } : {}) };
  const record = await handles.remove(op.handle, op.index, who, tomb);
  return { item, op: 'delete', handle: record.id, status: 200, responseCode: 1 };
}

/** An operation's error, its code and status kept, naming the operation. */
function itemError(e: unknown, item: number, op: Operation): unknown {
  if (!(e instanceof CairnError)) return e;
  return new CairnError(e.code, `operations[${item}] (${op.op} ${op.handle}): ${e.message}`, { ...e.details, item, handle: op.handle });
}

export function batchRoutes(app: FastifyInstance, service: Service): void {
  const { store, handles } = service;
  app.post(
    '/api/batch',
    {
      schema: {
        summary: 'Apply several handle writes all or nothing; Idempotency-Key makes a retry safe',
        tags: ['handles'],
        headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', description: '1-255 visible ASCII characters' } } },
        body: {
          type: 'array',
          description: `Up to ${MAX_BATCH_OPERATIONS} operations: {"op": "put", "handle", "values", "index"?, "overwrite"?} or {"op": "delete", "handle", "index"?, "reason"?, "successor"?}`,
        },
        response: {
          200: { type: 'object', additionalProperties: true },
          ...errorsFor(problem, 400, 401, 403, 404, 409, 410, 413, 415, 422, 429),
        },
      },
    },
    async (req, reply) => {
      const operations = parseOperations(req.body);
      const key = parseIdempotencyKey(req.headers['idempotency-key']);
      const who = await requirePrincipal(req, handles);
      const meta = key === undefined ? undefined : `${IDEMPOTENCY_META}${sha256(`${formatIdentity(who.identity)}\u0000${key}`)}`;
      const fingerprint = sha256(JSON.stringify(req.body));
      const answer = await store.exclusive(async (): Promise<StoredAnswer & { replayed: boolean }> => {
        const now = Math.floor(Date.now() / 1000);
        if (meta !== undefined) {
          const earlier = await store.getMeta<StoredAnswer>(meta);
          if (earlier && now - earlier.at < IDEMPOTENCY_WINDOW_SECONDS) {
            if (earlier.fingerprint !== fingerprint) {
              throw new IdempotencyKeyReused('This Idempotency-Key was used for a different batch; use a new key for a new batch');
            }
            return { ...earlier, replayed: true };
          }
        }
        const staging = new Staging(store);
        const staged = stagedHandles(handles, staging.store);
        const results: ItemResult[] = [];
        for (const [i, op] of operations.entries()) {
          try {
            results.push(await apply(staged, op, i, who));
          } catch (e) {
            throw itemError(e, i, op);
          }
        }
        const stored: StoredAnswer = { fingerprint, at: now, status: 200, body: { responseCode: 1, results } };
        await store.commit(staging.writes, meta === undefined ? {} : { [meta]: stored });
        return { ...stored, replayed: false };
      });
      if (answer.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(answer.status as 200).send(answer.body);
    },
  );
}
