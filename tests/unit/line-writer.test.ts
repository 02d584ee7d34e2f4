import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LineWriter } from '../../src/http/line-writer.js';
import { hasTool } from '../helpers/tools.js';

let dir: string;
let fd: number;
const file = (): string => join(dir, 'out.log');
afterEach(() => {
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});
const open = (): void => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-lines-'));
  fd = openSync(file(), 'w');
};

describe('LineWriter', () => {
  it('writes whole lines in order across buffer rotations, and everything on flushSync', () => {
    open();
    const w = new LineWriter(fd, 1024, 10_000);
    const lines = Array.from({ length: 500 }, (_, i) => `{"n":${i},"text":"ünï ${'x'.repeat(i % 40)}"}`);
    for (const l of lines) w.line(l);
    w.line('y'.repeat(5000)); // longer than the buffer
    w.close();
    expect(readFileSync(file(), 'utf8')).toBe(`${[...lines, 'y'.repeat(5000)].join('\n')}\n`);
  });

  it('keeps what a full non-blocking pipe refuses (EAGAIN) queued, intact and in order, and drops the oldest past maxQueued', () => {
    open();
    // A FIFO opened read-write never blocks on open; writes past the pipe's capacity get EAGAIN.
    const fifo = join(dir, 'fifo');
    if (!hasTool('mkfifo', ['--version'])) return;
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const pipe = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    // Bytes, not text: a partial write may end inside a character.
    const drain = (): Buffer => {
      const chunks: Buffer[] = [];
      const b = Buffer.alloc(65536);
      for (;;) {
        let n = 0;
        try {
          n = readSync(pipe, b, 0, b.length, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        }
        if (n <= 0) return Buffer.concat(chunks);
        chunks.push(Buffer.from(b.subarray(0, n)));
      }
    };
    /** Reads and flushes in turns until nothing is left anywhere. */
    const finish = (w: LineWriter, got: Buffer[]): string => {
      for (let turns = 0; turns < 100; turns++) {
        w.flush();
        const chunk = drain();
        if (chunk.length === 0) break;
        got.push(chunk);
      }
      w.flushSync();
      return Buffer.concat(got).toString('utf8');
    };
    try {
      const w = new LineWriter(pipe, 4096, 10_000);
      // About 400 KB: several times a pipe's capacity, so many flushes meet EAGAIN (and partial
      // writes) while the reused buffer is refilled with later batches.
      const lines = Array.from({ length: 4000 }, (_, i) => `{"n":${i},"pad":"${'ü'.repeat(i % 50)}${'x'.repeat(40)}"}`);
      const got: Buffer[] = [];
      lines.forEach((l, i) => {
        w.line(l);
        if (i % 1000 === 999) got.push(drain());
      });
      expect(finish(w, got)).toBe(`${lines.join('\n')}\n`);

      // Nobody reads: at most about maxQueued bytes wait, the newest ones, as whole lines in order.
      const small = new LineWriter(pipe, 1024, 10_000, 8192);
      const more = Array.from({ length: 3000 }, (_, i) => `line ${i} ${'y'.repeat(60)}`);
      for (const l of more) small.line(l);
      const kept = finish(small, []).trimEnd().split('\n');
      // What the pipe took first, then only the newest lines: whole lines, in order, ending with the last.
      const at = kept.map((l) => more.indexOf(l));
      expect(at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!))).toBe(true);
      expect(at.at(-1)).toBe(more.length - 1);
      expect(kept.length).toBeLessThan(more.length);
    } finally {
      closeSync(pipe);
    }
  });

  it('flushes a quiet writer by itself, also after an explicit flushSync', async () => {
    open();
    const w = new LineWriter(fd, 64 * 1024, 20);
    w.line('one line');
    await new Promise((r) => setTimeout(r, 150));
    expect(readFileSync(file(), 'utf8')).toBe('one line\n');
    // The server flushes right after its ready line; later lines must still go out on time.
    w.flushSync();
    w.write('two\nthree\n');
    await new Promise((r) => setTimeout(r, 150));
    expect(readFileSync(file(), 'utf8')).toBe('one line\ntwo\nthree\n');
    w.close();
    w.line('after close');
    await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(file(), 'utf8')).toBe('one line\ntwo\nthree\n');
  });
});

describe('AccessLog', () => {
  it('writes one JSON line per request in pino line format, escaping what needs it', async () => {
    const { AccessLog } = await import('../../src/http/logging.js');
    open();
    const w = new LineWriter(fd, 4096, 10_000);
    const log = new AccessLog(w);
    log.write(log.nextId(), 'GET', '/api/handles/20.5000/plain', 200, 0.123456);
    log.write(log.nextId(), 'PUT', '/api/handles/20.5000/a"b\\c/ünï', 201, 12);
    w.close();
    const lines = readFileSync(file(), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { level: 30, time: expect.any(Number), msg: 'request', reqId: 'r1', method: 'GET', url: '/api/handles/20.5000/plain', status: 200, ms: 0.12 },
      { level: 30, time: expect.any(Number), msg: 'request', reqId: 'r2', method: 'PUT', url: '/api/handles/20.5000/a"b\\c/ünï', status: 201, ms: 12 },
    ]);
  });

  it('shares one ordered stream with pino\'s lines; at warn there is no access log', async () => {
    const { createLogging } = await import('../../src/http/logging.js');
    open();
    const info = createLogging('info', fd);
    info.logger.info({ event: 'ready' }, 'cairn ready');
    info.access!.write(info.access!.nextId(), 'GET', '/api/handles/20.5000/x', 200, 1.5);
    info.logger.debug('not at info');
    info.logger.warn({ event: 'dns-error' }, 'DNS responder error');
    info.flushSync();
    const lines = readFileSync(file(), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [30, 'cairn ready'],
      [30, 'request'],
      [40, 'DNS responder error'],
    ]);
    expect(lines[0]).toMatchObject({ event: 'ready', pid: process.pid, time: expect.any(Number) });

    const warn = createLogging('warn', fd);
    expect(warn.access).toBeUndefined();
    warn.logger.info('dropped');
    warn.logger.error('kept');
    warn.flushSync();
    expect(readFileSync(file(), 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg).slice(3)).toEqual(['kept']);
  });
});
