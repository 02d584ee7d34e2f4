import { MirrorFeedInvalid } from '../errors.js';

/**
 * The primary as a mirror reads it: its change feed, the history of a record, its JWKS, and
 * whether it serves a prefix. Everything over its public HTTP API; only the change feed needs
 * credentials (LIST_HANDLES on the primary's prefix).
 */
export interface Primary {
  /** Base URL, no trailing slash. */
  readonly url: string;
  /** `GET /api/changes?since=&limit=`, checked: entries after `since`, consecutive, in order. */
  changes(since: number, limit: number, signal?: AbortSignal): Promise<ChangesPage>;
  /** `GET /api/history/{id}` as JSON (checked by verify.ts); ERR_MIRROR_FEED_INVALID if the primary has none. */
  history(id: string, signal?: AbortSignal): Promise<unknown>;
  /** `GET /.well-known/jwks.json` as JSON. */
  jwks(signal?: AbortSignal): Promise<unknown>;
  /** Whether `GET /api/handles/0.NA/<prefix>` finds the prefix record. */
  servesPrefix(prefix: string, signal?: AbortSignal): Promise<boolean>;
}

export interface FeedEntry {
  readonly seq: number;
  /** `hdl:<handle>`, `urn:oid:<dotted>`, or (ITS records) `hdl:its:...` / `hdl:its-issuer:...`. */
  readonly id: string;
  readonly version: number;
  readonly op: 'create' | 'update' | 'delete';
}

export interface ChangesPage {
  readonly changes: readonly FeedEntry[];
  /** The primary's last change-log position when it answered. */
  readonly last: number;
}

/** The primary could not be asked (network, timeout, 5xx, credentials refused): try again later. */
export class PrimaryUnavailable extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'PrimaryUnavailable';
  }
}

const OPS = new Set(['create', 'update', 'delete']);
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Checks a change-feed page: consecutive positions right after `since`, well-formed entries. */
export function checkChangesPage(body: unknown, since: number, limit: number): ChangesPage {
  const b = body as { changes?: unknown; last?: unknown } | null;
  if (typeof b !== 'object' || b === null || !Array.isArray(b.changes) || !isCount(b.last)) throw new MirrorFeedInvalid('The primary\'s change feed answered without "changes" and "last"');
  if (b.changes.length > limit) throw new MirrorFeedInvalid(`The primary's change feed sent ${b.changes.length} entries for limit ${limit}`);
  const changes = b.changes.map((c: unknown, i: number): FeedEntry => {
    const e = c as Partial<FeedEntry> | null;
    const seq = since + i + 1;
    if (typeof e !== 'object' || e === null || e.seq !== seq) throw new MirrorFeedInvalid(`The primary's change feed has ${JSON.stringify(e?.seq)} where position ${seq} belongs (a gap or reordering)`);
    if (typeof e.id !== 'string' || !isCount(e.version) || e.version < 1 || typeof e.op !== 'string' || !OPS.has(e.op)) {
      throw new MirrorFeedInvalid(`The primary's change-feed entry ${seq} is malformed`);
    }
    return { seq, id: e.id, version: e.version, op: e.op };
  });
  if (b.last < since + changes.length) throw new MirrorFeedInvalid(`The primary's change feed says its last position is ${b.last}, below the entries it sent`);
  return { changes, last: b.last };
}

/** Handle paths keep `/` between segments; everything else in a segment is percent-encoded. */
const encodePath = (id: string): string => id.split('/').map(encodeURIComponent).join('/');

/** Largest answer read from the primary (a record's whole history, a page of the feed). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export class HttpPrimary implements Primary {
  private readonly authorization: string;

  constructor(
    readonly url: string,
    identity: string,
    secret: string,
    private readonly timeoutMs = 15_000,
  ) {
    this.authorization = `Basic ${Buffer.from(`${encodeURIComponent(identity)}:${secret}`).toString('base64')}`;
  }

  async changes(since: number, limit: number, signal?: AbortSignal): Promise<ChangesPage> {
    const { status, body } = await this.get(`/api/changes?since=${since}&limit=${limit}`, true, signal);
    if (status === 401 || status === 403) throw new PrimaryUnavailable(`The primary refused the mirror's credentials for its change feed (HTTP ${status}): check CAIRN_MIRROR_IDENTITY and CAIRN_MIRROR_SECRET`, status);
    if (status !== 200) throw new MirrorFeedInvalid(`The primary's change feed answered HTTP ${status}`);
    return checkChangesPage(body, since, limit);
  }

  async history(id: string, signal?: AbortSignal): Promise<unknown> {
    const { status, body } = await this.get(`/api/history/${encodePath(id)}`, false, signal);
    if (status !== 200) throw new MirrorFeedInvalid(`The primary has no history of ${id} (HTTP ${status})`, { status });
    return body;
  }

  async jwks(signal?: AbortSignal): Promise<unknown> {
    const { status, body } = await this.get('/.well-known/jwks.json', false, signal);
    if (status !== 200) throw new PrimaryUnavailable(`The primary's JWKS answered HTTP ${status}`, status);
    return body;
  }

  async servesPrefix(prefix: string, signal?: AbortSignal): Promise<boolean> {
    const { status } = await this.get(`/api/handles/${encodePath(`0.NA/${prefix}`)}`, false, signal);
    return status === 200;
  }

  private async get(path: string, auth: boolean, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
    // One controller per request, aborted by the timeout or by the follower stopping.
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    const stop = (): void => ctrl.abort(new Error('stopping'));
    signal?.addEventListener('abort', stop, { once: true });
    if (signal?.aborted) stop();
    try {
      let res: Response;
      try {
        res = await fetch(`${this.url}${path}`, {
          headers: { accept: 'application/json', ...(auth ? { authorization: this.authorization } : {}) },
          redirect: 'error',
          signal: ctrl.signal,
        });
      } catch (e) {
        const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
        throw new PrimaryUnavailable(`Cannot reach the primary at ${this.url} (${cause})`);
      }
      if (res.status >= 500 || res.status === 429) {
        await res.body?.cancel();
        throw new PrimaryUnavailable(`The primary answered HTTP ${res.status} for ${path.split('?')[0]}`, res.status);
      }
      let text: string;
      try {
        text = await readCapped(res, MAX_BODY_BYTES);
      } catch (e) {
        if (e instanceof MirrorFeedInvalid) throw e;
        throw new PrimaryUnavailable(`Reading the primary's answer failed (${(e as Error).message})`);
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new MirrorFeedInvalid(`The primary's answer to ${path.split('?')[0]} is not JSON (HTTP ${res.status})`);
      }
      return { status: res.status, body };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
  }
}

async function readCapped(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new MirrorFeedInvalid(`The primary's answer exceeds ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
