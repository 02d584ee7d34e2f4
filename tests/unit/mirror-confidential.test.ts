import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { parseOid } from '../../src/ids/oid.js';
import { oidWrite } from '../../src/mirror/apply.js';
import { mirrorHttp } from '../../src/mirror/http.js';
import { mirroredConfidential } from '../../src/mirror/oid-confidential.js';
import { openMirrorService, type MirrorService } from '../../src/mirror/service.js';
import type { StoredRecord } from '../../src/records/record.js';
import { isPublicRead } from '../../src/records/value.js';
import { ADMIN_IDENTITY, ADMIN_SECRET, adminAuth, startTestService, type TestService } from '../helpers/service.js';

/**
 * What a mirror says about values it never receives (admin-only values: the primary neither signs
 * nor publishes them). A confidential OID registrant must not read `confidential: false` on a
 * mirror; SUN verification (device keys and counters live on the primary) must be refused.
 */

let primary: TestService;
let mirror: MirrorService;
let dir: string;

/** Arcs on the primary and what a mirror can truthfully say about each one's registrant. */
const ARCS = [
  { oid: '2.999.7.1', body: { description: 'no registrant', ors: ['https://example.org/ors'] }, primary: false, mirror: null },
  { oid: '2.999.7.2', body: { description: 'public registrant', registrant: { name: 'ACME' } }, primary: false, mirror: false },
  { oid: '2.999.7.3', body: { description: 'confidential, values after it', registrant: { name: 'ACME' }, confidential: true, ors: ['https://example.org/o'] }, primary: true, mirror: true },
  { oid: '2.999.7.4', body: { description: 'confidential, numbered last', registrant: { name: 'ACME' }, confidential: true }, primary: true, mirror: null },
] as const;

/** The record as a mirror receives it: public values only. */
const publicPart = (r: StoredRecord): StoredRecord => ({ ...r, owner: '', values: r.values.filter(isPublicRead) });

beforeAll(async () => {
  primary = await startTestService();
  dir = mkdtempSync(join(tmpdir(), 'cairn-mirror-conf-'));
  mirror = await openMirrorService(
    loadConfig({}, { dataDir: join(dir, 'data'), certsDir: join(dir, 'certs'), syncWrites: false, mirrorOf: 'http://primary.test', mirrorIdentity: ADMIN_IDENTITY, mirrorSecret: ADMIN_SECRET }),
  );
  for (const { oid, body } of ARCS) {
    const res = await primary.app.inject({ method: 'PUT', url: `/api/oids/${oid}`, headers: { authorization: adminAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect(res.statusCode, oid).toBe(201);
  }
  // What the follower commits for each (tests/unit/mirror-apply.test.ts runs the follower itself).
  const writes = ARCS.map(({ oid }) => oidWrite(parseOid(oid), publicPart(primary.service.oids.find(parseOid(oid))!), undefined));
  await mirror.service.store.exclusive(() => mirror.service.store.commit(writes));
});

afterAll(async () => {
  await mirror.service.close();
  await primary.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('confidential OID registrants on a mirror', () => {
  it.each(ARCS)('$oid ($body.description): primary says $primary, mirror says $mirror', async ({ oid, primary: onPrimary, mirror: onMirror }) => {
    const record = primary.service.oids.find(parseOid(oid))!;
    expect(mirroredConfidential(publicPart(record))).toBe(onMirror);
    // The primary, anonymously: the stored view and the rendered one.
    expect((await primary.app.inject({ url: `/api/oids/${oid}` })).json().confidential).toBe(onPrimary);
    // The mirror: its stored view (anonymous reads) and its rendered view (every other read path).
    const app = await buildApp(mirror.service, { mirror: mirrorHttp('http://primary.test', { status: () => ({}), metrics: () => '' }) });
    try {
      const stored = await app.inject({ url: `/api/oids/${oid}` });
      expect([stored.statusCode, stored.json().confidential]).toEqual([200, onMirror]);
      const resolved = await app.inject({ url: `/api/resolve/urn:oid:${oid}` });
      expect([resolved.statusCode, resolved.json().confidential]).toEqual([200, onMirror]);
      // Anyone who needs the answer asks the primary: credentialed reads are sent there.
      const asked = await app.inject({ url: `/api/oids/${oid}?auth=true` });
      expect([asked.statusCode, asked.headers.location]).toEqual([307, `http://primary.test/api/oids/${oid}?auth=true`]);
    } finally {
      await app.close();
    }
  });

  it('never says false where the primary says true', () => {
    for (const arc of ARCS) if (arc.primary) expect(arc.mirror, arc.oid).not.toBe(false);
  });
});

describe('SUN and device verification on a mirror', () => {
  it.each([
    ['/api/verify/challenges', { id: '/01/09506000134352/21/1' }],
    ['/api/verify', { id: '/01/09506000134352/21/1', evidence: { type: 'sun', url: 'https://example.org/?picc=00&cmac=00' } }],
  ])('refuses POST %s with ERR_MIRROR_READ_ONLY naming the primary (keys and counters live there)', async (url, body) => {
    const app = await buildApp(mirror.service, { mirror: mirrorHttp('http://primary.test', { status: () => ({}), metrics: () => '' }) });
    try {
      const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
      expect([res.statusCode, res.json().code, res.json().primary]).toEqual([400, 'ERR_MIRROR_READ_ONLY', 'http://primary.test']);
    } finally {
      await app.close();
    }
  });
});
