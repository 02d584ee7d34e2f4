import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { refLeafHash, refMth, refPath } from '../log/reference.js';

/**
 * The page's RFC 9162 audit-path check (web/assets/common.js, run by the verifier page in the
 * browser) against the reference implementation in tests/log/reference.ts, for every leaf of
 * every tree size up to 70, in Node (its WebCrypto is the same API the page uses). The Chromium
 * tests (verifier-log.test.ts) exercise it on one real log only.
 */
interface CommonJs {
  inclusionLeadsToRoot(leafHash: Uint8Array, leafIndex: number, treeSize: number, path: Uint8Array[], root: Uint8Array): Promise<boolean>;
  logLeafHash(data: Uint8Array): Promise<Uint8Array>;
  decodeLogLeaf(data: Uint8Array): { seq: number; at: number; op: string; family: string; id: string; version: number } | undefined;
}

let page: CommonJs;
beforeAll(async () => {
  // A plain browser module without type declarations: imported by URL so the type check skips it.
  const url = new URL('../../web/assets/common.js', import.meta.url).href;
  page = (await import(/* @vite-ignore */ url)) as CommonJs;
});

const leaves = Array.from({ length: 70 }, (_, i) => createHash('sha256').update(`leaf ${i}`).digest().subarray(0, 5 + (i % 7)));

describe("the verifier page's inclusion check", () => {
  it('accepts every reference audit path and rejects it for another index, shortened, for another leaf or root', async () => {
    let checked = 0;
    for (let n = 1; n <= leaves.length; n++) {
      const tree = leaves.slice(0, n);
      const root = refMth(tree);
      for (let m = 0; m < n; m++) {
        const hash = refLeafHash(tree[m]!);
        expect(Buffer.from(await page.logLeafHash(tree[m]!))).toEqual(hash);
        const path = refPath(m, tree);
        expect(await page.inclusionLeadsToRoot(hash, m, n, path, root)).toBe(true);
        if (n > 1) {
          expect(await page.inclusionLeadsToRoot(hash, (m + 1) % n, n, path, root)).toBe(false);
          expect(await page.inclusionLeadsToRoot(hash, m, n, path.slice(0, -1), root)).toBe(false);
          expect(await page.inclusionLeadsToRoot(refLeafHash(tree[(m + 1) % n]!), m, n, path, root)).toBe(false);
        }
        const otherRoot = Buffer.from(root);
        otherRoot[31]! ^= 1;
        expect(await page.inclusionLeadsToRoot(hash, m, n, path, otherRoot)).toBe(false);
        checked++;
      }
      expect(await page.inclusionLeadsToRoot(refLeafHash(tree[0]!), n, n, [], root)).toBe(false);
    }
    expect(checked).toBe((70 * 71) / 2);
  });

  it('decodes leaf data in the documented layout and refuses trailing or truncated bytes', () => {
    const id = Buffer.from('20.5000.1/LB-1');
    const data = Buffer.concat([
      Buffer.from([1]),
      Buffer.from('0000000000000007', 'hex'),
      Buffer.from('000000006a0b1c2d', 'hex'),
      Buffer.from([1, 6]),
      Buffer.from('handle'),
      Buffer.from([0, id.length]),
      id,
      Buffer.from('00000001', 'hex'),
      Buffer.from([32]),
      Buffer.alloc(32, 7),
    ]);
    expect(page.decodeLogLeaf(data)).toEqual({ seq: 7, at: 0x6a0b1c2d, op: 'create', family: 'handle', id: '20.5000.1/LB-1', version: 1 });
    expect(page.decodeLogLeaf(Buffer.concat([data, Buffer.from([0])]))).toBeUndefined();
    expect(page.decodeLogLeaf(data.subarray(0, data.length - 1))).toBeUndefined();
  });
});
