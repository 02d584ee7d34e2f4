import { createSocket, type Socket } from 'node:dgram';
import { describe, it, type ExpectStatic } from 'vitest';
import { decodeMessage, type Message } from '../../src/dns/wire.js';
import { APEX, buildQuery, countsOf, dotted, startOrsServer, T, udpQuery, type OrsServer } from './helpers.js';

/**
 * DNS NOTIFY (RFC 1996): the test binds a UDP socket and names it in dnsNotify; Cairn's notifier
 * retries every 2 s (5 attempts) until the secondary answers. The tests run concurrently, each
 * with its own server and socket, so the waits overlap.
 */

interface Secondary {
  readonly socket: Socket;
  readonly port: number;
  readonly received: { at: number; raw: Buffer; port: number }[];
  /** The next NOTIFY not yet taken, within `timeoutMs`. */
  next(timeoutMs: number): Promise<{ raw: Buffer; m: Message; port: number }>;
  answer(raw: Buffer, port: number, patch?: (b: Buffer) => void): Promise<void>;
  close(): Promise<void>;
}

async function secondary(): Promise<Secondary> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  const received: { at: number; raw: Buffer; port: number }[] = [];
  let taken = 0;
  let wake: (() => void) | undefined;
  socket.on('message', (raw, rinfo) => {
    received.push({ at: Date.now(), raw, port: rinfo.port });
    wake?.();
  });
  return {
    socket,
    port: socket.address().port,
    received,
    next(timeoutMs) {
      return new Promise((resolve, reject) => {
        const take = (): boolean => {
          if (taken >= received.length) return false;
          const r = received[taken++]!;
          clearTimeout(timer);
          wake = undefined;
          resolve({ raw: r.raw, m: decodeMessage(r.raw), port: r.port });
          return true;
        };
        const timer = setTimeout(() => {
          wake = undefined;
          reject(new Error(`no NOTIFY within ${timeoutMs} ms`));
        }, timeoutMs);
        if (!take()) wake = () => void take();
      });
    },
    answer(raw, port, patch) {
      // The response: same ID, QR=1, opcode NOTIFY, AA, the question echoed, nothing else.
      const question = raw.subarray(12, 12 + (decodeMessage(raw).questions.length > 0 ? questionLength(raw) : 0));
      const header = Buffer.alloc(12);
      raw.copy(header, 0, 0, 2);
      header[2] = 0x80 | (4 << 3) | 0x04;
      header[3] = 0;
      header.writeUInt16BE(question.length > 0 ? 1 : 0, 4);
      const out = Buffer.concat([header, question]);
      patch?.(out);
      return new Promise((resolve, reject) => socket.send(out, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function questionLength(raw: Buffer): number {
  let at = 12;
  while (raw[at]! !== 0) at += 1 + raw[at]!;
  return at + 1 + 4 - 12;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function withNotify(fn: (s: OrsServer, sec: Secondary) => Promise<void>): Promise<void> {
  const sec = await secondary();
  let s: OrsServer | undefined;
  try {
    s = await startOrsServer({ dnsNotify: [`127.0.0.1:${sec.port}`] });
    await fn(s, sec);
  } finally {
    await s?.close();
    await sec.close();
  }
}

const currentSerial = async (s: OrsServer): Promise<number> => {
  const soa = decodeMessage(await udpQuery(s.dnsPort, buildQuery({ name: APEX, type: T.SOA }))).answers[0];
  if (soa?.data.kind !== 'SOA') throw new Error('no SOA');
  return soa.data.serial;
};

function expectNotify(expect: ExpectStatic, raw: Buffer, m: Message, serial: number): void {
  // Octets: QR=0, OPCODE=4 (NOTIFY), AA=1, TC=0, RD=0 -> 0x24; RA=0, RCODE=0 -> 0x00; counts 1,1,0,0.
  expect(raw[2]).toBe(0x24);
  expect(raw[3]).toBe(0x00);
  expect(countsOf(raw)).toEqual([1, 1, 0, 0]);
  expect(m.header).toMatchObject({ qr: false, opcode: 4, aa: true });
  expect(m.questions.map((q) => [dotted(q.name), q.type, q.class])).toEqual([[APEX, T.SOA, 1]]);
  expect(m.answers.map((rr) => [dotted(rr.name), rr.type, rr.data.kind === 'SOA' && rr.data.serial])).toEqual([[APEX, T.SOA, serial]]);
}

describe.concurrent('NOTIFY', () => {
  it('is sent on a PUT with the new serial, retried while unanswered (a wrong ID does not count), and stops once answered', async ({ expect }) => {
    await withNotify(async (s, sec) => {
      const before = await currentSerial(s);
      expect(await s.put('2.999', { description: 'Example' })).toBe(201);
      const serial = await currentSerial(s);
      expect(serial).toBeGreaterThan(before);
      const first = await sec.next(3000);
      expectNotify(expect, first.raw, first.m, serial);
      // An answer with another ID is no acknowledgement.
      await sec.answer(first.raw, first.port, (b) => b.writeUInt16BE((first.m.header.id + 1000) & 0xffff, 0));
      const second = await sec.next(4000);
      expectNotify(expect, second.raw, second.m, serial);
      const gap = sec.received[1]!.at - sec.received[0]!.at;
      expect(gap).toBeGreaterThan(1000);
      expect(gap).toBeLessThan(4000);
      await sec.answer(second.raw, second.port);
      // The next attempt would come about 2 s after the second: nothing more arrives.
      await sleep(2800);
      expect(sec.received).toHaveLength(2);
    });
  });

  it('is sent on a DELETE too, and not retried when answered at once', async ({ expect }) => {
    await withNotify(async (s, sec) => {
      expect(await s.put('2.999', { description: 'Example' })).toBe(201);
      const put = await sec.next(3000);
      await sec.answer(put.raw, put.port);
      expect(await s.del('2.999')).toBe(200);
      const serial = await currentSerial(s);
      const del = await sec.next(3000);
      expectNotify(expect, del.raw, del.m, serial);
      await sec.answer(del.raw, del.port);
      await sleep(2800);
      expect(sec.received).toHaveLength(2);
    });
  });

  // Regression (was a bug in src/dns/notify.ts): the class comment says "Changes in a burst are coalesced: a notify
  // in flight is re-sent with the newest serial rather than queued once per change", but
  // `notify(serial)` starts an independent retry chain per change: after two quick PUTs with
  // serials N and N+1, unanswered, every retry round sends both N and N+1 (and answering the
  // N+1 NOTIFY does not stop the retries of N).
  it('coalesces a burst of changes: retries carry only the newest serial', async ({ expect }) => {
    await withNotify(async (s, sec) => {
      expect(await s.put('2.999', { description: 'one' })).toBe(201);
      expect(await s.put('2.999.1', { description: 'two' })).toBe(201);
      const newest = await currentSerial(s);
      await sleep(2600); // one retry interval
      const serials = sec.received.slice(1).map((r) => {
        const soa = decodeMessage(r.raw).answers[0];
        return soa?.data.kind === 'SOA' ? soa.data.serial : undefined;
      });
      expect(serials.length).toBeGreaterThan(0);
      expect(new Set(serials)).toEqual(new Set([newest]));
    });
  });
});
