import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnError } from '../../src/errors.js';
import { adminAuth, ADMIN_IDENTITY, ADMIN_SECRET, basic, startTestService, type TestService } from '../helpers/service.js';

/**
 * Who may do what, where: every actor x every operation x three prefixes (the service's own, a
 * derived prefix, and a sibling derived prefix), each cell on a fresh handle, each asserted with
 * its status and code; a refused cell must also leave the store unchanged.
 *
 * Actors:
 * - admin     the service admin 300:0.NA/20.5000
 * - acme      the admin identity of the derived prefix 20.5000.1 (POST /api/prefixes)
 * - member    300:20.5000.1/alice, a member of acme's HS_VLIST group 200:20.5000.1/staff, which
 *             acme names on its prefix record (ADD_HANDLE, LIST_HANDLES) and on its handles
 * - clerk     300:20.5000/clerk, named on the service prefix record with LIST_HANDLES only and on
 *             the service prefix's handles with ADD_VALUE, MODIFY_VALUE, READ_VALUE
 * - stranger  300:20.5000/stranger, an identity no HS_ADMIN names
 * - anonymous no credentials
 *
 * Cells: A allowed; D 403 ERR_PERMISSION_DENIED (not an admin); I 403 ERR_PERMISSION_INSUFFICIENT
 * (an admin without the bit); U 401 ERR_AUTH_REQUIRED; H the admin-only value is not shown
 * (anonymous resolution).
 *
 * "read" is resolution with credentials (HandleService.resolveAuthorized, what Handle.Net calls
 * `auth=true`), called on the service with the principal the same Basic credentials authenticate
 * as, since the HTTP route does not take `auth=true` yet; anonymous reads go through HTTP.
 */
const OPS = ['create', 'addValue', 'modifyValue', 'removeValue', 'addAdmin', 'modifyAdmin', 'removeAdmin', 'deleteHandle', 'list', 'read'] as const;
type Op = (typeof OPS)[number];
const PREFIXES = { service: '20.5000', derived: '20.5000.1', sibling: '20.5000.2' } as const;
type Where = keyof typeof PREFIXES;
type Actor = 'admin' | 'acme' | 'member' | 'clerk' | 'stranger' | 'anonymous';

//                               create, addValue, modifyValue, removeValue, addAdmin, modifyAdmin, removeAdmin, deleteHandle, list, read
const EXPECTED: Record<Actor, Record<Where, string>> = {
  admin: /*    */ { service: 'A A A A A A A A A A', derived: 'A A A A A A A A A A', sibling: 'A A A A A A A A A A' },
  acme: /*     */ { service: 'D D D D D D D D D D', derived: 'A A A A A A A A A A', sibling: 'D D D D D D D D D D' },
  member: /*   */ { service: 'D D D D D D D D D D', derived: 'A A A A A A A A A A', sibling: 'D D D D D D D D D D' },
  clerk: /*    */ { service: 'I A A I I I I I A A', derived: 'D D D D D D D D D D', sibling: 'D D D D D D D D D D' },
  stranger: /* */ { service: 'D D D D D D D D D D', derived: 'D D D D D D D D D D', sibling: 'D D D D D D D D D D' },
  anonymous: /**/ { service: 'U U U U U U U U U H', derived: 'U U U U U U U U U H', sibling: 'U U U U U U U U U H' },
};

const OUTCOME: Record<string, [number, string | undefined]> = {
  D: [403, 'ERR_PERMISSION_DENIED'],
  I: [403, 'ERR_PERMISSION_INSUFFICIENT'],
  U: [401, 'ERR_AUTH_REQUIRED'],
};

let t: TestService;
const credentials: Partial<Record<Actor, { identity: string; secret: string }>> = {
  admin: { identity: ADMIN_IDENTITY, secret: ADMIN_SECRET },
  clerk: { identity: '300:20.5000/clerk', secret: 'clerk-secret-value' },
  stranger: { identity: '300:20.5000/stranger', secret: 'stranger-secret-value' },
  member: { identity: '300:20.5000.1/alice', secret: 'alice-secret-value' },
};
const authOf = (actor: Actor): string | null => {
  const c = credentials[actor];
  return c ? basic(c.identity, c.secret) : null;
};

const request = (method: 'GET' | 'PUT' | 'DELETE' | 'POST', url: string, auth: string | null, body?: unknown) =>
  t.app.inject({
    method,
    url,
    headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
const adminRef = (index: number, handle: string, refIndex: number, permissions: string) => ({
  index,
  type: 'HS_ADMIN',
  data: { format: 'admin', value: { handle, index: refIndex, permissions } },
});

/** ADD_VALUE, MODIFY_VALUE, READ_VALUE. */
const CLERK_BITS = '010001010000';
/** The creator default: every handle permission but LIST_HANDLES and the prefix ones. */
const HANDLE_BITS = '011111110011';

/** The admins of a target handle under each prefix: its prefix's admin at 100, someone else at 101. */
const TARGET_ADMINS: Record<Where, unknown[]> = {
  service: [adminRef(100, '0.NA/20.5000', 300, '111111111111'), adminRef(101, '20.5000/clerk', 300, CLERK_BITS)],
  derived: [adminRef(100, '0.NA/20.5000.1', 300, HANDLE_BITS), adminRef(101, '20.5000.1/staff', 200, HANDLE_BITS)],
  sibling: [adminRef(100, '0.NA/20.5000.2', 300, HANDLE_BITS), adminRef(101, '0.NA/20.5000.2', 300, '010000000000')],
};
const ADMIN_ONLY = { index: 3, type: 'NOTE', data: 'admins only', permissions: '1100' };

let cell = 0;
/** A fresh handle under the prefix, written by the service admin. */
async function target(where: Where): Promise<string> {
  const handle = `${PREFIXES[where]}/m-${++cell}`;
  const values = [
    { index: 1, type: 'URL', data: 'https://example.org/one' },
    { index: 2, type: 'EMAIL', data: 'ops@example.org' },
    ADMIN_ONLY,
    ...TARGET_ADMINS[where],
  ];
  const res = await request('PUT', `/api/handles/${handle}`, adminAuth(), values);
  expect(res.statusCode, res.body).toBe(201);
  return handle;
}

type Result = { status: number; code: string | undefined; body?: string };

async function perform(actor: Actor, op: Op, where: Where): Promise<Result> {
  const auth = authOf(actor);
  const prefix = PREFIXES[where];
  const handle = op === 'create' || op === 'list' ? '' : await target(where);
  const path = `/api/handles/${handle}`;
  let res;
  switch (op) {
    case 'create':
      res = await request('PUT', `/api/handles/${prefix}/new-${++cell}`, auth, [{ index: 1, type: 'URL', data: 'https://example.org/new' }]);
      break;
    case 'addValue':
      res = await request('PUT', `${path}?index=4`, auth, [{ index: 4, type: 'URL', data: 'https://example.org/four' }]);
      break;
    case 'modifyValue':
      res = await request('PUT', `${path}?index=1`, auth, [{ index: 1, type: 'URL', data: 'https://example.org/changed' }]);
      break;
    case 'removeValue':
      res = await request('DELETE', `${path}?index=2`, auth);
      break;
    case 'addAdmin':
      res = await request('PUT', `${path}?index=102`, auth, [adminRef(102, '20.5000/stranger', 300, '000001110000')]);
      break;
    case 'modifyAdmin':
      res = await request('PUT', `${path}?index=101`, auth, [adminRef(101, '20.5000/stranger', 300, '000000010000')]);
      break;
    case 'removeAdmin':
      res = await request('DELETE', `${path}?index=101`, auth);
      break;
    case 'deleteHandle':
      res = await request('DELETE', path, auth);
      break;
    case 'list':
      res = await request('GET', `/api/handles?prefix=${prefix}`, auth);
      break;
    case 'read': {
      if (!auth) {
        const anonymous = await request('GET', `${path}?index=3`, null);
        return { status: anonymous.statusCode, code: anonymous.json().values.length === 0 ? 'HIDDEN' : 'SHOWN', body: anonymous.body };
      }
      const c = credentials[actor]!;
      try {
        const who = await t.service.handles.authenticate(c.identity, c.secret);
        const body = t.service.handles.resolveAuthorized(handle, [], [3], who);
        return { status: 200, code: undefined, body: JSON.stringify(body) };
      } catch (e) {
        if (e instanceof CairnError) return { status: e.status, code: e.code };
        throw e;
      }
    }
  }
  return { status: res.statusCode, code: res.statusCode < 300 ? undefined : res.json().code, body: res.body };
}

const SUCCESS: Record<Op, number> = {
  create: 201, addValue: 200, modifyValue: 200, removeValue: 200, addAdmin: 200,
  modifyAdmin: 200, removeAdmin: 200, deleteHandle: 200, list: 200, read: 200,
};

beforeAll(async () => {
  t = await startTestService();
  const ok = async (res: ReturnType<typeof request>, status = 201) => {
    const r = await res;
    expect(r.statusCode, r.body).toBe(status);
    return r;
  };
  for (const name of ['clerk', 'stranger']) {
    await ok(request('PUT', `/api/handles/20.5000/${name}`, adminAuth(), [{ index: 300, type: 'HS_SECKEY', data: `${name}-secret-value` }]));
  }
  // The clerk may list the service prefix, nothing more there.
  await ok(request('PUT', '/api/handles/0.NA/20.5000?index=102', adminAuth(), [adminRef(102, '20.5000/clerk', 300, '100000000000')]), 200);
  // Two derived prefixes; acme sets up its staff group and lets it create and list.
  const acme = (await ok(request('POST', '/api/prefixes', adminAuth(), { name: 'Acme Devices' }))).json();
  const globex = (await ok(request('POST', '/api/prefixes', adminAuth(), { name: 'Globex' }))).json();
  expect([acme.prefix, globex.prefix]).toEqual([PREFIXES.derived, PREFIXES.sibling]);
  credentials.acme = { identity: acme.identity, secret: acme.secret };
  const acmeAuth = authOf('acme');
  await ok(request('PUT', '/api/handles/20.5000.1/alice', acmeAuth, [{ index: 300, type: 'HS_SECKEY', data: 'alice-secret-value' }]));
  await ok(
    request('PUT', '/api/handles/20.5000.1/staff', acmeAuth, [{ index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '20.5000.1/alice', index: 300 }] } }]),
  );
  await ok(request('PUT', '/api/handles/0.NA/20.5000.1?index=102', acmeAuth, [adminRef(102, '20.5000.1/staff', 200, '100000000001')]), 200);
});
afterAll(async () => t.close());

const cells = (Object.keys(EXPECTED) as Actor[]).flatMap((actor) =>
  (Object.keys(PREFIXES) as Where[]).flatMap((where) => {
    const row = EXPECTED[actor][where].split(' ');
    expect(row).toHaveLength(OPS.length);
    return OPS.map((op, i) => ({ actor, where, op, expected: row[i]! }));
  }),
);

describe('the permission matrix', () => {
  it('has every cell', () => {
    expect(cells).toHaveLength(6 * 3 * OPS.length);
  });

  it.each(cells)('$actor: $op under the $where prefix -> $expected', async ({ actor, where, op, expected }) => {
    const seq = t.service.store.lastSeq;
    const got = await perform(actor, op, where);
    const before = op === 'create' || op === 'list' ? seq : seq + 1; // + the target's own creation
    if (expected === 'A') {
      expect([got.status, got.code], got.body).toEqual([SUCCESS[op], undefined]);
      if (op === 'read') expect(JSON.parse(got.body!).values.map((v: { index: number }) => v.index)).toEqual([3]);
      if (op === 'list') expect(JSON.parse(got.body!).responseCode).toBe(1);
    } else if (expected === 'H') {
      expect([got.status, got.code]).toEqual([200, 'HIDDEN']);
    } else {
      expect([got.status, got.code], got.body).toEqual(OUTCOME[expected]);
      expect(t.service.store.lastSeq).toBe(before);
    }
  });
});
