import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDoipListener, type DoipListener } from '../../src/doip/listener.js';
import { doipFor } from '../../src/doip/operations.js';
import { loadOrCreateDevCertificate } from '../../src/service/tls-cert.js';
import { ADMIN_IDENTITY, ADMIN_SECRET, startTestService, type TestService } from '../helpers/service.js';
import { hasTool } from '../helpers/tools.js';

/**
 * `openssl s_client` as the DOIP client: it verifies the development certificate with nothing but
 * the PEM file, then carries a Hello, a Create (with a bytes segment) and a Retrieve written by hand
 * in the specification's framing. The answers are read here without Cairn's parser: each is one
 * JSON segment, so a response is its JSON text followed by a "#" line and the terminating "#" line.
 */
const OPENSSL = hasTool('openssl');

describe.runIf(OPENSSL)('DOIP over TLS with openssl s_client', () => {
  let t: TestService;
  let listener: DoipListener;
  let dir: string;

  beforeAll(async () => {
    t = await startTestService();
    const tls = loadOrCreateDevCertificate(t.config.certsDir);
    dir = mkdtempSync(join(tmpdir(), 'cairn-doip-openssl-'));
    writeFileSync(join(dir, 'ca.pem'), tls.cert);
    listener = await startDoipListener(doipFor(t.service), { host: '127.0.0.1', port: 0, key: tls.key, cert: tls.cert });
  });
  afterAll(async () => {
    await listener.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends Hello, Create and Retrieve and gets the three answers', async () => {
    const requests = [
      '{"requestId":"1","targetId":"service","operationId":"0.DOIP/Op.Hello"}\n#\n#\n',
      // The object in its own segment, then element "note": a {"id"} segment and a bytes segment.
      `{"requestId":"2","targetId":"service","operationId":"0.DOIP/Op.Create","clientId":"${ADMIN_IDENTITY}","authentication":{"password":"${ADMIN_SECRET}"}}\n#\n` +
        '{"id":"20.5000/openssl-doc","type":"Document",\n "attributes":{"title":"From openssl"},\n "elements":[{"id":"note","type":"text/plain"}]}\n#\n' +
        '{"id":"note"}\n#\n@\n5\nhello\n6\n world\n#\n#\n',
      '{"requestId":"3","targetId":"20.5000/openssl-doc","operationId":"0.DOIP/Op.Retrieve"}\n#\n#\n',
    ];
    const child = spawn(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${listener.port}`, '-quiet', '-CAfile', join(dir, 'ca.pem'), '-verify_return_error', '-servername', 'localhost'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const answered = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no three answers within 15 s\nstdout: ${stdout}\nstderr: ${stderr}`)), 15_000);
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        stdout += s;
        if (stdout.split('\n#\n#\n').length > requests.length) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`openssl exited (${code}) early\nstdout: ${stdout}\nstderr: ${stderr}`));
      });
    });
    // -quiet implies -ign_eof: openssl keeps the connection after stdin ends; it is stopped below.
    child.stdin.end(requests.join(''));
    try {
      await answered;
    } finally {
      child.kill('SIGTERM');
    }
    expect(stderr).toMatch(/verify return:1/);
    const answers = stdout.split('\n#\n#\n').slice(0, 3).map((text) => JSON.parse(text) as { requestId: string; status: string; output: Record<string, unknown> });

    expect(answers[0]).toMatchObject({ requestId: '1', status: '0.DOIP/Status.001', output: { type: '0.TYPE/DOIPServiceInfo', attributes: { port: listener.port, protocolVersion: '2.0' } } });
    expect(answers[1]).toEqual({
      requestId: '2',
      status: '0.DOIP/Status.001',
      output: { id: '20.5000/openssl-doc', type: 'Document', attributes: { title: 'From openssl' }, elements: [{ id: 'note', type: 'text/plain', length: 11 }] },
    });
    expect(answers[2]).toEqual({ requestId: '3', status: '0.DOIP/Status.001', output: answers[1]!.output });

    // What openssl created is a signed handle record like any other.
    const res = await t.app.inject({ url: '/api/handles/20.5000/openssl-doc?type=DOIP.ELEMENT' });
    expect(res.json().values[0].data).toEqual({ format: 'string', value: 'hello world' });
  });
});
