import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

/**
 * Issue 3, "the change feed, a sequence cursor, no duplicates, no gaps": a reader paging the feed
 * in small pages while writers keep committing (single writes and batches) sees every position
 * exactly once, in order.
 */

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => t.close());

const write = (i: number) =>
  t.app.inject({
    method: 'PUT',
    url: `/api/handles/20.5000/feed-${i % 7}`,
    headers: { authorization: adminAuth(), 'content-type': 'application/json' },
    payload: JSON.stringify([{ index: 1, type: 'URL', data: `https://example.org/${i}` }]),
  });
const batch = (i: number) =>
  t.app.inject({
    method: 'POST',
    url: '/api/batch',
    headers: { authorization: adminAuth(), 'content-type': 'application/json' },
    payload: JSON.stringify([0, 1, 2].map((k) => ({ op: 'put', handle: `20.5000/feed-b${i}-${k}`, values: [{ index: 1, type: 'URL', data: 'https://example.org/b' }] }))),
  });

describe('GET /api/changes under concurrent writes', () => {
  it('gives every position once, in order, across pages', async () => {
    const seen: number[] = [];
    let since = 0;
    const writers = (async () => {
      for (let i = 0; i < 40; i++) expect((await (i % 5 === 0 ? batch(i) : write(i))).statusCode).toBeLessThan(300);
    })();
    let writing = true;
    void writers.finally(() => (writing = false));
    // Read while the writers run, then until the reader has caught up with the last commit.
    for (;;) {
      const page = (await t.app.inject({ url: `/api/changes?since=${since}&limit=3`, headers: { authorization: adminAuth() } })).json() as {
        changes: { seq: number }[];
        next?: number;
        last: number;
      };
      seen.push(...page.changes.map((c) => c.seq));
      if (page.changes.length > 0) since = page.changes.at(-1)!.seq;
      if (!writing && page.changes.length === 0 && since === t.service.store.lastSeq) break;
      if (page.changes.length === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await writers;
    expect(seen.length).toBeGreaterThan(40); // 32 single writes, 8 batches of 3, the prefix record
    expect(seen).toEqual(Array.from({ length: t.service.store.lastSeq }, (_, i) => i + 1));
  });
});
