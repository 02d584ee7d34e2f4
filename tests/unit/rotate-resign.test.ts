import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import { RESIGN_META, ResignJob, prepareResign, signatureKid, signedSubject, type ResignContext, type ResignState } from '../../src/ops/resign.js';
import { renderHandleView } from '../../src/families/doa/views.js';
import { nextVersion, type Family, type StoredRecord } from '../../src/records/record.js';
import { valueFromJson } from '../../src/records/handle-json.js';
import { generateKeyPair, type SigningAlg } from '../../src/signing/algorithms.js';
import { verifyRecordSignature, withSignature } from '../../src/signing/record-signature.js';
import { Signer, signingKey, verificationKey, type SigningKey } from '../../src/signing/signer.js';
import { RecordStore, type Db } from '../../src/store/store.js';

const NOW = 1_764_000_000;
const key = (alg: SigningAlg, index: number, retireAfter?: number): SigningKey => {
  const p = generateKeyPair(alg);
  return { ...signingKey(p.privateKey, p.publicKey, { index }), ...(retireAfter === undefined ? {} : { retireAfter }) };
};

async function storeWith(records: readonly { key: string; record: StoredRecord }[]): Promise<RecordStore> {
  const store = await RecordStore.open(new MemoryLevel<string, Buffer>({ valueEncoding: 'buffer' }) as unknown as Db, { sync: false });
  await store.commit(records.map(({ key, record }) => ({ key, record, previous: undefined, view: renderHandleView(record), indexTerms: [], previousIndexTerms: [] })));
  return store;
}

function record(id: string, family: Family, signer: Signer, subject = id): StoredRecord {
  const values = [valueFromJson({ index: 1, type: 'URL', data: `https://example.org/${id}` }, NOW)];
  const signed = withSignature(subject, values, signer, { issuer: '301:0.NA/20.5000', now: NOW, validitySeconds: 3600 });
  return nextVersion(undefined, { id, family, owner: '300:0.NA/20.5000', values: signed, now: NOW });
}

describe('the re-sign job', () => {
  it('names the subject each family signs', () => {
    const base = { version: 1, created: 0, updated: 0, status: 'active' as const, owner: '', values: [] };
    expect(signedSubject({ ...base, id: '20.5000/a', family: 'handle' })).toBe('20.5000/a');
    expect(signedSubject({ ...base, id: '2.999.1', family: 'oid' })).toBe('urn:oid:2.999.1');
    expect(signedSubject({ ...base, id: 'its:sign:DE.417:1', family: 'its' })).toBe('its:sign:DE.417:1');
    expect(signedSubject({ ...base, id: 'x', family: 'product' as Family })).toBeUndefined();
  });

  it('leaves records of a family it does not know as they are, and keeps their key published when done', async () => {
    const old = key('EdDSA', 301, NOW - 10);
    const fresh = key('ES256', 302);
    const before = new Signer(old);
    const store = await storeWith([
      { key: '20.5000/A', record: record('20.5000/a', 'handle', before) },
      { key: 'other:1', record: record('other:1', 'future' as Family, before) },
      { key: '20.5000/B', record: record('20.5000/b', 'handle', before) },
    ]);
    const signer = new Signer(fresh, [verificationKey(old.publicKey, { index: 301, retireAfter: NOW - 10 })]);
    const ctx: ResignContext = { store, signer, issuer: () => '302:0.NA/20.5000', validitySeconds: 3600, now: () => NOW };
    const state = await prepareResign(ctx, true);
    expect(state).toMatchObject({ target: fresh.kid, after: null, done: false, pinned: [fresh.kid, old.kid] });
    expect(signer.jwks(NOW).keys.map((k) => k.kid)).toEqual([fresh.kid, old.kid]);
    const batches: ResignState[] = [];
    const done = await new ResignJob(ctx, state!, { batchSize: 2, onBatch: (s) => batches.push(s) }).run();
    expect(done).toMatchObject({ done: true, resigned: 2, skipped: 1, others: [old.kid] });
    expect(batches.map((b) => b.after)).toEqual(['20.5000/B', 'other:1', 'other:1']);
    expect(await store.getMeta(RESIGN_META)).toEqual(done);
    for (const k of ['20.5000/A', '20.5000/B']) {
      const r = store.findRecord(k)!;
      expect([r.version, signatureKid(r)]).toEqual([2, fresh.kid]);
      verifyRecordSignature(r.id, r.values, new Signer(fresh), NOW);
    }
    expect(signatureKid(store.findRecord('other:1')!)).toBe(old.kid);
    // The unknown family's key is still needed: it stays in the JWKS past its retire time.
    expect(signer.jwks(NOW).keys.map((k) => k.kid)).toEqual([fresh.kid, old.kid]);
    // A later start sees the finished job and pins the same.
    const again = new Signer(fresh, [verificationKey(old.publicKey, { index: 301, retireAfter: NOW - 10 })]);
    expect(await prepareResign({ ...ctx, signer: again }, true)).toBeUndefined();
    expect(again.jwks(NOW).keys.map((k) => k.kid)).toEqual([fresh.kid, old.kid]);
    await store.close();
  });

  it('re-signs each record once however often it is cut, and refuses to sign with a key that is not its target', async () => {
    const old = key('EdDSA', 301);
    const fresh = key('EdDSA', 311);
    const before = new Signer(old);
    const store = await storeWith(Array.from({ length: 7 }, (_, i) => ({ key: `20.5000/R${i}`, record: record(`20.5000/r${i}`, 'handle', before) })));
    const signer = new Signer(fresh, [old]);
    const ctx: ResignContext = { store, signer, issuer: () => '311:0.NA/20.5000', validitySeconds: 3600, now: () => NOW };
    let state = (await prepareResign(ctx, true))!;
    for (let i = 0; i < 10 && !state.done; i++) {
      // One batch, then a new job from the stored checkpoint (as after a crash and a restart).
      const job = new ResignJob(ctx, (await store.getMeta<ResignState>(RESIGN_META))!, { batchSize: 3, onBatch: () => void job.stop() });
      state = await job.run();
    }
    expect(state).toMatchObject({ done: true, resigned: 7 });
    for await (const [, r] of store.allRecords()) expect([r.version, signatureKid(r)]).toEqual([2, fresh.kid]);
    expect(store.lastSeq).toBe(14);
    const wrong = new ResignJob({ ...ctx, signer: new Signer(old) }, { ...state, done: false, after: null }, {});
    await expect(wrong.run()).rejects.toThrow(/not the re-sign target/);
    await store.close();
  });
});
