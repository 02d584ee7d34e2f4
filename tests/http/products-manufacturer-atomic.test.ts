import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

/**
 * `POST /api/manufacturers` writes the derived prefix record `0.NA/<prefix>` and the manufacturer
 * record `<prefix>/_manufacturer` in one store commit: a crash (here: a failed batch write)
 * leaves neither, never a prefix without its manufacturer.
 */
let t: TestService;

const create = (name: string) =>
  t.app.inject({ method: 'POST', url: '/api/manufacturers', headers: { 'content-type': 'application/json', authorization: adminAuth() }, payload: JSON.stringify({ name }) });
const exists = async (handle: string): Promise<boolean> => (await t.app.inject({ url: `/api/handles/${handle}` })).statusCode === 200;

beforeAll(async () => {
  t = await startTestService();
});

afterAll(async () => {
  vi.restoreAllMocks();
  await t?.close();
});

describe('creating a manufacturer', () => {
  it('commits the prefix record and the manufacturer record together, in one batch', async () => {
    const commit = vi.spyOn(t.service.store, 'commit');
    const before = t.service.store.lastSeq;
    const res = await create('Acme Devices');
    expect(res.statusCode, res.body).toBe(201);
    const { prefix } = res.json() as { prefix: string };
    expect(commit).toHaveBeenCalledTimes(1);
    const ids = commit.mock.calls[0]![0].map((w) => w.record.id);
    expect(ids).toEqual([`0.NA/${prefix}`, `${prefix}/_manufacturer`]);
    expect(t.service.store.lastSeq).toBe(before + 2);
    expect(await exists(`0.NA/${prefix}`)).toBe(true);
    expect(await exists(`${prefix}/_manufacturer`)).toBe(true);
    commit.mockRestore();
  });

  it('leaves neither record when the commit fails, and the same prefix is free for the retry', async () => {
    // The commit carrying the manufacturer record fails before LevelDB takes it (a crash there).
    // Were the prefix committed on its own first, it would be left behind without its manufacturer.
    const commit = t.service.store.commit.bind(t.service.store);
    const failing = vi.spyOn(t.service.store, 'commit').mockImplementation((writes, meta) =>
      writes.some((w) => w.record.id.endsWith('/_manufacturer')) ? Promise.reject(new Error('simulated crash before the write')) : commit(writes, meta),
    );
    const before = t.service.store.lastSeq;
    const res = await create('Crashing Devices');
    expect(res.statusCode).toBe(500);
    failing.mockRestore();
    expect(t.service.store.lastSeq).toBe(before);
    expect(await exists('0.NA/20.5000.2')).toBe(false);

    const retry = await create('Crashing Devices');
    expect(retry.statusCode, retry.body).toBe(201);
    const { prefix } = retry.json() as { prefix: string };
    // Nothing of the failed attempt was there to skip past: it gets the next number in line.
    expect(prefix).toBe('20.5000.2');
    expect(await exists(`0.NA/${prefix}`)).toBe(true);
    const m = await t.app.inject({ url: `/api/manufacturers/${prefix}` });
    expect(m.statusCode, m.body).toBe(200);
    expect(m.json()).toMatchObject({ prefix, name: 'Crashing Devices' });
  });
});
