import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LineWriter } from '../../src/http/line-writer.js';

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
    w.flushSync();
    expect(readFileSync(file(), 'utf8')).toBe(`${[...lines, 'y'.repeat(5000)].join('\n')}\n`);
  });

  it('flushes a quiet writer by itself', async () => {
    open();
    const w = new LineWriter(fd, 64 * 1024, 20);
    w.line('one line');
    await new Promise((r) => setTimeout(r, 150));
    expect(readFileSync(file(), 'utf8')).toBe('one line\n');
    w.flushSync();
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
    w.flushSync();
    const lines = readFileSync(file(), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { level: 30, time: expect.any(Number), msg: 'request', reqId: 'r1', method: 'GET', url: '/api/handles/20.5000/plain', status: 200, ms: 0.12 },
      { level: 30, time: expect.any(Number), msg: 'request', reqId: 'r2', method: 'PUT', url: '/api/handles/20.5000/a"b\\c/ünï', status: 201, ms: 12 },
    ]);
  });
});
