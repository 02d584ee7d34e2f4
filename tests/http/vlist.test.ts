import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_VLIST_DEPTH } from '../../src/families/doa/vlist.js';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

/**
 * HS_VLIST admin groups: HS_ADMIN naming a list, lists of lists, index-0 references, cycles refused
 * on write and harmless on read, the depth limit.
 */
let t: TestService;
const P = '20.5000';
const json = (auth: string | null) => ({ 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) });
const put = (handle: string, body: unknown, query = '', auth: string | null = adminAuth()) =>
  t.app.inject({ method: 'PUT', url: `/api/handles/${handle}${query}`, headers: json(auth), payload: JSON.stringify(body) });
const del = (url: string, auth: string | null = adminAuth()) => t.app.inject({ method: 'DELETE', url, headers: auth ? { authorization: auth } : {} });

const ref = (handle: string, index: number) => ({ handle: handle.includes('/') ? handle : `${P}/${handle}`, index });
const vlist = (index: number, ...members: { handle: string; index: number }[]) => ({ index, type: 'HS_VLIST', data: { format: 'vlist', value: members } });
const admin = (index: number, who: { handle: string; index: number }, permissions: string) => ({
  index,
  type: 'HS_ADMIN',
  data: { format: 'admin', value: { ...who, permissions } },
});
const FULL = admin(100, ref('0.NA/20.5000', 300), '111111111111');
/** ADD_VALUE and MODIFY_VALUE. */
const EDIT = '000001010000';
const secretOf = (name: string, index = 300) => `${name}-secret-${index}`;
const as = (name: string, index = 300) => basic(`${index}:${P}/${name}`, secretOf(name, index));

let counter = 0;
/** A MODIFY_VALUE on value 1 of `handle`, with data never written before. */
const edit = (handle: string, auth: string) => put(`${P}/${handle}`, [{ index: 1, type: 'URL', data: `https://example.org/${++counter}` }], '?index=1', auth);
const outcome = async (res: Promise<{ statusCode: number; json(): { code?: string } }>) => {
  const r = await res;
  return r.statusCode < 300 ? r.statusCode : `${r.statusCode} ${r.json().code}`;
};
const created = async (res: Promise<{ statusCode: number; body: string }>) => {
  const r = await res;
  expect(r.statusCode, r.body).toBe(201);
};

beforeAll(async () => {
  t = await startTestService();
  for (const name of ['alice', 'bob', 'dave', 'erin', 'm-in', 'm-out']) {
    await created(put(`${P}/${name}`, [{ index: 300, type: 'HS_SECKEY', data: secretOf(name) }]));
  }
  await created(put(`${P}/carol`, [300, 301].map((index) => ({ index, type: 'HS_SECKEY', data: secretOf('carol', index) }))));
  await created(put(`${P}/team`, [FULL, vlist(200, ref('alice', 300), ref('subteam', 200))]));
  await created(put(`${P}/subteam`, [FULL, vlist(200, ref('bob', 300), ref('dave', 0))]));
  await created(put(`${P}/doc`, [{ index: 1, type: 'URL', data: 'https://example.org/' }, FULL, admin(101, ref('team', 200), EDIT)]));
});
afterAll(async () => t.close());

describe('membership', () => {
  it('admits a direct member, a member of a nested list, and any identity of an index-0 member', async () => {
    expect(await outcome(edit('doc', as('alice')))).toBe(200);
    expect(await outcome(edit('doc', as('bob')))).toBe(200);
    expect(await outcome(edit('doc', as('dave')))).toBe(200);
    expect(await outcome(edit('doc', as('erin')))).toBe('403 ERR_PERMISSION_DENIED');
  });

  it('gives members the bits of the HS_ADMIN that names the list, and no more', async () => {
    expect(await outcome(del(`/api/handles/${P}/doc?index=1`, as('bob')))).toBe('403 ERR_PERMISSION_INSUFFICIENT');
    expect(await outcome(del(`/api/handles/${P}/doc`, as('alice')))).toBe('403 ERR_PERMISSION_INSUFFICIENT');
  });

  it('reads index 0 in HS_ADMIN as any identity value of that handle', async () => {
    await created(put(`${P}/doc-carol`, [{ index: 1, type: 'URL', data: 'https://example.org/' }, FULL, admin(101, ref('carol', 0), EDIT)]));
    expect(await outcome(edit('doc-carol', as('carol', 300)))).toBe(200);
    expect(await outcome(edit('doc-carol', as('carol', 301)))).toBe(200);
    expect(await outcome(edit('doc-carol', as('alice')))).toBe('403 ERR_PERMISSION_DENIED');
  });

  it('never expands a list through an index-0 reference', async () => {
    await created(put(`${P}/doc-zero`, [{ index: 1, type: 'URL', data: 'https://example.org/' }, FULL, admin(101, ref('team', 0), EDIT)]));
    expect(await outcome(edit('doc-zero', as('alice')))).toBe('403 ERR_PERMISSION_DENIED');
  });

  it('matches list references case-insensitively, as handles are', async () => {
    await created(put(`${P}/shouty`, [FULL, vlist(200, ref('ERIN', 300))]));
    await created(put(`${P}/doc-shouty`, [{ index: 1, type: 'URL', data: 'https://example.org/' }, FULL, admin(101, ref('SHOUTY', 200), EDIT)]));
    expect(await outcome(edit('doc-shouty', as('erin')))).toBe(200);
  });

  it('follows the list as it is now, and a deleted list grants nothing', async () => {
    expect((await put(`${P}/subteam`, [vlist(200, ref('carol', 301))], '?index=200')).statusCode).toBe(200);
    expect(await outcome(edit('doc', as('bob')))).toBe('403 ERR_PERMISSION_DENIED');
    expect(await outcome(edit('doc', as('carol', 300)))).toBe('403 ERR_PERMISSION_DENIED');
    expect(await outcome(edit('doc', as('carol', 301)))).toBe(200);
    expect((await del(`/api/handles/${P}/subteam`)).statusCode).toBe(200);
    expect(await outcome(edit('doc', as('carol', 301)))).toBe('403 ERR_PERMISSION_DENIED');
    expect(await outcome(edit('doc', as('alice')))).toBe(200);
  });
});

describe('editing a list', () => {
  it('needs the admin bits: the value bits alone do not make a member', async () => {
    // erin may add, change and remove ordinary values of the team handle, not its lists.
    expect((await put(`${P}/team`, [admin(101, ref('erin', 300), '000001110000')], '?index=101')).statusCode).toBe(200);
    expect(await outcome(put(`${P}/team`, [vlist(200, ref('erin', 300))], '?index=200', as('erin')))).toBe('403 ERR_PERMISSION_INSUFFICIENT');
    expect(await outcome(put(`${P}/team`, [vlist(201, ref('erin', 300))], '?index=201', as('erin')))).toBe('403 ERR_PERMISSION_INSUFFICIENT');
    expect(await outcome(del(`/api/handles/${P}/team?index=200`, as('erin')))).toBe('403 ERR_PERMISSION_INSUFFICIENT');
    expect(await outcome(put(`${P}/team`, [{ index: 1, type: 'URL', data: 'https://team.example/' }], '?index=1', as('erin')))).toBe(200);
    expect(await outcome(edit('doc', as('erin')))).toBe('403 ERR_PERMISSION_DENIED');
  });
});

describe('cycles', () => {
  const refused = async (handle: string, body: unknown, query = '') => {
    const seq = t.service.store.lastSeq;
    const res = await put(handle, body, query);
    expect([res.statusCode, res.json().code, res.json().responseCode]).toEqual([409, 'ERR_VLIST_CYCLE', 202]);
    expect(t.service.store.lastSeq).toBe(seq);
  };

  it('refuses a list that contains itself', async () => {
    await refused(`${P}/loop`, [FULL, vlist(200, ref('loop', 200))]);
    expect((await t.app.inject({ url: `/api/handles/${P}/loop` })).statusCode).toBe(404);
  });

  it('refuses two lists of one record that contain each other', async () => {
    await refused(`${P}/pair`, [FULL, vlist(200, ref('pair', 201)), vlist(201, ref('alice', 300), ref('pair', 200))]);
  });

  it('refuses the write that closes a ring across handles, in whatever letter case, and the same ring re-pointed', async () => {
    await created(put(`${P}/ring-a`, [FULL, vlist(200, ref('ring-b', 200))]));
    await created(put(`${P}/ring-b`, [FULL, vlist(200, ref('ring-c', 200))]));
    await refused(`${P}/ring-c`, [FULL, vlist(200, ref('alice', 300), ref('RING-A', 200))]);
    await created(put(`${P}/ring-c`, [FULL, vlist(200, ref('alice', 300))]));
    await refused(`${P}/ring-c`, [vlist(200, ref('ring-b', 200))], '?index=200');
  });

  it('accepts shared sub-lists (a diamond is no cycle) and index-0 references to the list\'s own handle', async () => {
    await created(put(`${P}/d-bottom`, [FULL, vlist(200, ref('alice', 300))]));
    await created(put(`${P}/d-left`, [FULL, vlist(200, ref('d-bottom', 200))]));
    await created(put(`${P}/d-right`, [FULL, vlist(200, ref('d-bottom', 200))]));
    await created(put(`${P}/d-top`, [FULL, vlist(200, ref('d-left', 200), ref('d-right', 200), ref('d-top', 0))]));
  });

  it('never loops on a cycle written some other way (bulk import), and still finds members on it', async () => {
    await t.service.handles.importBatch(
      [
        { handle: `${P}/cyc-a`, values: [FULL, vlist(200, ref('cyc-b', 200))], line: 1 },
        { handle: `${P}/cyc-b`, values: [FULL, vlist(200, ref('cyc-a', 200), ref('erin', 300))], line: 2 },
      ],
      {},
    );
    await created(put(`${P}/doc-cyc`, [{ index: 1, type: 'URL', data: 'https://example.org/' }, FULL, admin(101, ref('cyc-a', 200), EDIT)]));
    expect(await outcome(edit('doc-cyc', as('erin')))).toBe(200);
    expect(await outcome(edit('doc-cyc', as('bob')))).toBe('403 ERR_PERMISSION_DENIED');
    // A list outside the cycle may point into it; the cycle's own lists cannot be rewritten as cycles.
    await created(put(`${P}/into-cycle`, [FULL, vlist(200, ref('cyc-a', 200))]));
    await refused(`${P}/cyc-a`, [vlist(200, ref('cyc-b', 200), ref('alice', 300))], '?index=200');
  });
});

describe('depth', () => {
  it(`follows at most ${MAX_VLIST_DEPTH} lists from an HS_ADMIN value`, async () => {
    // Written top-down, each list is one deep when written; read from the top, the chain is longer than the limit.
    const depth = MAX_VLIST_DEPTH + 1;
    for (let k = 1; k <= depth; k++) {
      const members = [k < depth ? ref(`deep-${k + 1}`, 200) : ref('m-out', 300)];
      if (k === MAX_VLIST_DEPTH) members.push(ref('m-in', 300));
      await created(put(`${P}/deep-${k}`, [FULL, vlist(200, ...members)]));
    }
    await created(put(`${P}/doc-deep`, [{ index: 1, type: 'URL', data: 'https://example.org/' }, FULL, admin(101, ref('deep-1', 200), EDIT)]));
    expect(await outcome(edit('doc-deep', as('m-in')))).toBe(200);
    expect(await outcome(edit('doc-deep', as('m-out')))).toBe('403 ERR_PERMISSION_DENIED');
    // The member beyond the limit is admitted by a list that names its list from nearer.
    await created(put(`${P}/doc-near`, [{ index: 1, type: 'URL', data: 'https://example.org/' }, FULL, admin(101, ref(`deep-${depth}`, 200), EDIT)]));
    expect(await outcome(edit('doc-near', as('m-out')))).toBe(200);
  });

  it('refuses a list with more lists than the limit below it (written bottom-up)', async () => {
    await created(put(`${P}/up-1`, [FULL, vlist(200, ref('m-in', 300))]));
    for (let k = 2; k <= MAX_VLIST_DEPTH; k++) await created(put(`${P}/up-${k}`, [FULL, vlist(200, ref(`up-${k - 1}`, 200))]));
    const seq = t.service.store.lastSeq;
    const res = await put(`${P}/up-${MAX_VLIST_DEPTH + 1}`, [FULL, vlist(200, ref(`up-${MAX_VLIST_DEPTH}`, 200))]);
    expect([res.statusCode, res.json().code]).toEqual([400, 'ERR_VLIST_TOO_DEEP']);
    expect(t.service.store.lastSeq).toBe(seq);
  });
});
