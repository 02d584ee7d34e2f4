import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { BackupDamaged, CairnError } from '../../src/errors.js';
import { foldHandleCase } from '../../src/ids/handle.js';
import { backupLines, checkBackupFile, parseEntryLine, readBackupLines, sublevelOf, type BackupHeader } from '../../src/ops/backup-format.js';
import { restoreBackup } from '../../src/ops/restore.js';
import { deserializeRecord } from '../../src/records/record.js';
import { openStore } from '../../src/store/open.js';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

let t: TestService;
let scratch: string;

const put = async (handle: string, values: unknown[], auth = adminAuth()) => {
  const res = await t.app.inject({ method: 'PUT', url: `/api/handles/${handle}`, headers: { authorization: auth, 'content-type': 'application/json' }, payload: JSON.stringify(values) });
  expect(res.statusCode, res.body).toBeLessThan(300);
};

beforeAll(async () => {
  t = await startTestService();
  scratch = mkdtempSync(join(tmpdir(), 'cairn-backup-unit-'));
  for (let i = 1; i <= 3; i++) await put(`20.5000/u-${i}`, [{ index: 1, type: 'URL', data: `https://example.org/u/${i}` }]);
  await put('20.5000/user1', [{ index: 300, type: 'HS_SECKEY', data: 'user1-secret-value' }]);
});

afterAll(async () => {
  await t.close();
  rmSync(scratch, { recursive: true, force: true });
});

interface Parsed {
  header: BackupHeader;
  entries: Map<string, Buffer>;
}

function parse(text: string): Parsed {
  const lines = text.split('\n').slice(0, -1);
  const header = JSON.parse(lines[0]!) as BackupHeader;
  const entries = new Map<string, Buffer>();
  for (const line of lines.slice(1, -1)) {
    const { k, v } = JSON.parse(line) as { k: string; v: string };
    entries.set(k, Buffer.from(v, 'base64'));
  }
  return { header, entries };
}

const recordOf = (entry: Buffer) => deserializeRecord(entry.subarray(4 + entry.readUInt32BE(0)));

describe('backup snapshot', () => {
  it('holds the store as it was when the backup began, whatever is written while it is read', async () => {
    const { store, signer } = t.service;
    const before = store.lastSeq;
    const lines = backupLines(store, signer, { prefix: '20.5000', source: 'server' });
    const first = await lines.next(); // the header: the snapshot is taken and counted
    // Writes land while the backup is being read: a new handle, and a new version of another.
    await put('20.5000/u-new', [{ index: 1, type: 'URL', data: 'https://example.org/u/new' }]);
    await put('20.5000/u-1', [{ index: 1, type: 'URL', data: 'https://example.org/u/1/changed' }]);
    expect(store.lastSeq).toBe(before + 2);
    const chunks: Buffer[] = [first.value as Buffer];
    for await (const chunk of lines) chunks.push(chunk);
    const { header, entries } = parse(Buffer.concat(chunks).toString('utf8'));

    expect(header.changeLog).toBe(before);
    expect(entries.has(`!records!${foldHandleCase('20.5000/u-new')}`)).toBe(false);
    const u1 = recordOf(entries.get(`!records!${foldHandleCase('20.5000/u-1')}`)!);
    expect(u1.version).toBe(1);
    expect(Buffer.from(u1.values.find((v) => v.index === 1)!.data).toString()).toBe('https://example.org/u/1');
    expect([...entries.keys()].filter((k) => k.startsWith('!changes!'))).toHaveLength(before);
    expect(header.entries).toBe(entries.size);
    expect(Object.values(header.counts).reduce((a, b) => a + b, 0)).toBe(entries.size);

    // That consistent picture restores, and the restored store resumes at its position.
    const file = join(scratch, 'mid-write.ndjson.gz');
    writeFileSync(file, gzipSync(Buffer.concat(chunks)));
    const target = join(scratch, 'restored');
    const outcome = await restoreBackup(loadConfig({}, { ...t.config, dataDir: target }), file);
    expect(outcome).toMatchObject({ changeLog: before, entries: entries.size });
    const restored = await openStore(join(target, 'leveldb'), { sync: false });
    try {
      expect(restored.lastSeq).toBe(before);
      expect(restored.findRecord(foldHandleCase('20.5000/u-new'))).toBeUndefined();
      expect(restored.findRecord(foldHandleCase('20.5000/u-1'))?.version).toBe(1);
    } finally {
      await restored.close();
    }
  });

  it('releases its snapshot when the reader stops early', async () => {
    const lines = backupLines(t.service.store, t.service.signer, { prefix: '20.5000', source: 'server' });
    await lines.next();
    await lines.return(undefined);
    // The store still closes cleanly later (an open snapshot would hold it); writes go on.
    await put('20.5000/u-after-abort', [{ index: 1, type: 'URL', data: 'https://example.org/u/a' }]);
  });
});

describe('POST /api/admin/backup', () => {
  const post = (authorization?: string) =>
    t.app.inject({ method: 'POST', url: '/api/admin/backup', headers: authorization === undefined ? {} : { authorization } });

  it('is for the service admin only', async () => {
    const anonymous = await post();
    expect([anonymous.statusCode, anonymous.json().code]).toEqual([401, 'ERR_AUTH_REQUIRED']);
    const user = await post(basic('300:20.5000/user1', 'user1-secret-value'));
    expect([user.statusCode, user.json().code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
    const wrong = await post(basic('300:0.NA/20.5000', 'not-the-secret'));
    expect([wrong.statusCode, wrong.json().code]).toEqual([401, 'ERR_AUTH_FAILED']);
  });

  it('answers the backup file, gzip, sealed, at the current position', async () => {
    const res = await post(adminAuth());
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/gzip');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="cairn-20\.5000-.*\.ndjson\.gz"$/);
    expect(res.headers['cache-control']).toBe('no-store');
    const file = join(scratch, 'http.ndjson.gz');
    writeFileSync(file, res.rawPayload);
    const { header, trailer } = await checkBackupFile(file);
    expect(header).toMatchObject({ format: 'cairn-backup', version: 1, prefix: '20.5000', source: 'server', changeLog: t.service.store.lastSeq });
    expect(header.jwks).toEqual(t.service.signer.jwks());
    const seal = t.service.signer.verify(trailer.seal);
    expect(seal.header.typ).toBe('cairn-backup+jws');
    expect(seal.payload).toMatchObject({ sha256: trailer.sha256, entries: header.entries, changeLog: header.changeLog });
    const text = gunzipSync(res.rawPayload).toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n')).toHaveLength(header.entries + 3);
  });
});

describe('backup file format', () => {
  it('names the sublevel of a raw key', () => {
    expect(sublevelOf('!records!20.5000/X')).toBe('records');
    expect(sublevelOf('!index!prefix\u000020.5000\u000020.5000/X')).toBe('index');
    expect(sublevelOf('plain')).toBe('');
    expect(sublevelOf('!unterminated')).toBe('');
  });

  it('takes entry lines of exactly a key and a canonical Base64 value', () => {
    const ok = parseEntryLine(Buffer.from('{"k":"!meta!x","v":"MQ=="}'), 2, 'f');
    expect(ok.key).toBe('!meta!x');
    expect(ok.value.toString()).toBe('1');
    const refused = (line: string): CairnError => {
      try {
        parseEntryLine(Buffer.from(line), 2, 'f');
      } catch (e) {
        return e as CairnError;
      }
      throw new Error(`accepted ${line}`);
    };
    for (const line of ['{"k":"a","v":"MQ==","x":1}', '{"k":"a","v":"MQ"}', '{"k":"a","v":"M Q=="}', '{"k":1,"v":"MQ=="}', '{"k":"\\ud800","v":"MQ=="}', '["a","MQ=="]', 'nope']) {
      const e = refused(line);
      expect(e, line).toBeInstanceOf(BackupDamaged);
      expect(e.code).toBe('ERR_BACKUP_DAMAGED');
    }
  });

  it('reads lines across chunks, and refuses a last line without its newline', async () => {
    const long = 'x'.repeat(200_000);
    const file = join(scratch, 'lines.gz');
    writeFileSync(file, gzipSync(`a\n${long}\n\nb\n`));
    const got: string[] = [];
    for await (const line of readBackupLines(file)) got.push(line.toString());
    expect(got).toEqual(['a', long, '', 'b']);
    writeFileSync(file, gzipSync('a\nb'));
    await expect((async () => {
      for await (const _ of readBackupLines(file)) void _;
    })()).rejects.toThrow(/the last line has no newline/);
  });
});
