import { connect as tcpConnect } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDoipListener, type DoipListener } from '../../src/doip/listener.js';
import { parseResponse, type ParsedResponse } from '../../src/doip/message.js';
import { doipFor } from '../../src/doip/operations.js';
import { SegmentParser, type DoipSegment } from '../../src/doip/segments.js';
import { parseHandle } from '../../src/ids/handle.js';
import { loadOrCreateDevCertificate } from '../../src/service/tls-cert.js';
import { ADMIN_IDENTITY, ADMIN_SECRET, startTestService, type TestService } from '../helpers/service.js';

/**
 * Bad input on the TLS listener: each gets a precise answer (when there is anyone to answer) and a
 * bounded cost, and the listener keeps serving everyone else.
 */

const LIMIT = 256 * 1024;
const IDLE_MS = 400;
const MESSAGE_MS = 1_200;
let t: TestService;
let listener: DoipListener;
let ca: string;

beforeAll(async () => {
  t = await startTestService();
  const tls = loadOrCreateDevCertificate(t.config.certsDir);
  ca = tls.cert;
  listener = await startDoipListener(doipFor(t.service), {
    host: '127.0.0.1',
    port: 0,
    key: tls.key,
    cert: tls.cert,
    limits: { maxSegmentBytes: LIMIT, maxMessageBytes: LIMIT, maxSegments: 16 },
    idleTimeoutMs: IDLE_MS,
    messageTimeoutMs: MESSAGE_MS,
  });
});
afterAll(async () => {
  await listener.close();
  await t.close();
});

interface Conversation {
  readonly socket: TLSSocket;
  /** Every response received, parsed. */
  readonly responses: ParsedResponse[];
  /** Resolves when the server has closed the connection, with the ms it took since `opened`. */
  readonly closed: Promise<number>;
  readonly opened: number;
}

function open(): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: listener.port, ca }, () => {
      const opened = Date.now();
      const responses: ParsedResponse[] = [];
      const parser = new SegmentParser({ maxSegmentBytes: 1 << 24, maxMessageBytes: 1 << 24, maxSegments: 64 });
      socket.on('data', (chunk: Buffer) => parser.push(chunk).forEach((m: DoipSegment[]) => responses.push(parseResponse(m))));
      socket.on('error', () => undefined);
      const closed = new Promise<number>((done) => socket.on('close', () => done(Date.now() - opened)));
      resolve({ socket, responses, closed, opened });
    });
    socket.once('error', reject);
  });
}

const hello = '{"targetId":"service","operationId":"0.DOIP/Op.Hello"}\n#\n#\n';

describe('clients that say too little', () => {
  it('drops a client that connects and says nothing, after the idle timeout, without an answer', async () => {
    const c = await open();
    const ms = await c.closed;
    expect(ms).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(ms).toBeLessThan(IDLE_MS + 2_000);
    expect(c.responses).toEqual([]);
  });

  it('drops a TCP client that never starts the TLS handshake', async () => {
    const started = Date.now();
    const socket = tcpConnect({ host: '127.0.0.1', port: listener.port });
    socket.on('error', () => undefined);
    await new Promise((done) => socket.on('close', done));
    expect(Date.now() - started).toBeLessThan(IDLE_MS + 2_000);
  });

  it('closes an idle connection after answering what it asked', async () => {
    const c = await open();
    c.socket.write(hello);
    await c.closed;
    expect(c.responses.map((r) => r.status)).toEqual(['0.DOIP/Status.001']);
  });

  it('answers a message left unfinished with ERR_DOIP_TIMEOUT, then closes', async () => {
    const c = await open();
    c.socket.write('{"targetId":"service",\n');
    await c.closed;
    expect(c.responses).toHaveLength(1);
    expect(c.responses[0]).toMatchObject({ status: '0.DOIP/Status.101', output: { code: 'ERR_DOIP_TIMEOUT' } });
  });

  it('does not let a client trickle one message forever', async () => {
    const c = await open();
    const timer = setInterval(() => c.socket.writable && c.socket.write(' '), IDLE_MS / 4);
    try {
      const ms = await c.closed;
      expect(ms).toBeGreaterThanOrEqual(MESSAGE_MS - 50);
      expect(c.responses[0]).toMatchObject({ status: '0.DOIP/Status.101', output: { code: 'ERR_DOIP_TIMEOUT', message: expect.stringContaining('not complete within') } });
    } finally {
      clearInterval(timer);
    }
  });

  it('answers a client that half-closes mid-message with the missing terminator', async () => {
    const c = await open();
    c.socket.end('{"targetId":"service","operationId":"0.DOIP/Op.Hello"}\n#\n');
    await c.closed;
    expect(c.responses[0]).toMatchObject({ status: '0.DOIP/Status.101', output: { code: 'ERR_DOIP_MESSAGE_INVALID', message: expect.stringContaining('two "#" lines') } });
  });

  it('answers everything a client sent before it half-closed', async () => {
    const c = await open();
    c.socket.end(hello + hello);
    await c.closed;
    expect(c.responses.map((r) => r.status)).toEqual(['0.DOIP/Status.001', '0.DOIP/Status.001']);
  });
});

describe('clients that say too much or say it wrong', () => {
  it('refuses a 100 MiB bytes segment at its size line and closes', async () => {
    const c = await open();
    c.socket.write(`{"targetId":"service","operationId":"0.DOIP/Op.Create"}\n#\n@\n${100 * 1024 * 1024}\n`);
    await c.closed;
    expect(c.responses[0]).toMatchObject({ status: '0.DOIP/Status.101', output: { code: 'ERR_DOIP_MESSAGE_TOO_LARGE', limit: LIMIT } });
  });

  it('stops a client streaming a 100 MiB segment long before it is through', async () => {
    const c = await open();
    const piece = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    let open_ = true;
    void c.closed.then(() => (open_ = false));
    while (open_ && written < 100 * 1024 * 1024) {
      const more = c.socket.write(piece);
      written += piece.length;
      if (!more) await Promise.race([new Promise((r) => c.socket.once('drain', r)), c.closed]);
    }
    await c.closed;
    expect(written).toBeLessThan(16 * 1024 * 1024);
    expect(c.responses[0]).toMatchObject({ output: { code: 'ERR_DOIP_MESSAGE_TOO_LARGE' } });
  });

  it('answers a chunk length that lies with ERR_DOIP_MESSAGE_INVALID and closes', async () => {
    const c = await open();
    c.socket.write('{"targetId":"service","operationId":"0.DOIP/Op.Hello"}\n#\n@\n2\nabc\n#\n#\n');
    await c.closed;
    expect(c.responses[0]).toMatchObject({ status: '0.DOIP/Status.101', output: { code: 'ERR_DOIP_MESSAGE_INVALID', message: expect.stringContaining('2-byte chunk') } });
  });

  it('answers an empty message as an invalid request and keeps the connection', async () => {
    const c = await open();
    c.socket.write('#\n' + hello);
    await c.closed;
    expect(c.responses.map((r) => (r.output as { code?: string } | undefined)?.code ?? r.status)).toEqual(['ERR_DOIP_REQUEST_INVALID', '0.DOIP/Status.001']);
  });

  // An authenticated Create that would store an object if its message were whole: each malformed
  // form is answered with its code, and the store does not move.
  const create = JSON.stringify({ clientId: ADMIN_IDENTITY, authentication: { password: ADMIN_SECRET }, targetId: 'service', operationId: '0.DOIP/Op.Create' });
  const object = '{"id":"20.5000/never-stored","type":"T","elements":[{"id":"e"}]}\n#\n{"id":"e"}\n#\n';
  it.each([
    ['a missing terminator', `${create}\n#\n${object}@\n3\nabc\n#\n`, 'ERR_DOIP_MESSAGE_INVALID'],
    ['a chunk length that lies', `${create}\n#\n${object}@\n2\nabc\n#\n#\n`, 'ERR_DOIP_MESSAGE_INVALID'],
    ['an unterminated bytes segment', `${create}\n#\n${object}@\n3\nabc\n`, 'ERR_DOIP_MESSAGE_INVALID'],
    ['a 100 MiB segment', `${create}\n#\n${object}@\n${100 * 1024 * 1024}\n`, 'ERR_DOIP_MESSAGE_TOO_LARGE'],
  ])('stores nothing for an authenticated Create with %s', async (_what, message, code) => {
    const seq = t.service.store.lastSeq;
    const c = await open();
    c.socket.end(message);
    await c.closed;
    expect(c.responses[0]).toMatchObject({ status: '0.DOIP/Status.101', output: { code } });
    expect(t.service.store.lastSeq).toBe(seq);
    expect(t.service.handles.findRecord(parseHandle('20.5000/never-stored'))).toBeUndefined();
  });

  it('keeps serving other clients through all of it', async () => {
    const c = await open();
    c.socket.write(hello);
    await c.closed;
    expect(c.responses[0]!.status).toBe('0.DOIP/Status.001');
    // Connections refused for bad input are gone within their grace period (2 s) at most.
    await expect.poll(() => listener.connections(), { timeout: 3_000 }).toBe(0);
  });
});
