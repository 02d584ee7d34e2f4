import { writeSync } from 'node:fs';

/**
 * Buffered writer of whole lines to a file descriptor (stdout for the access log). Lines are
 * collected as one string and encoded once per flush into a buffer that is reused, so a line
 * costs a string append: no per-line encoding call and no buffer allocated per flush (the
 * read-path profile, tests/bench/read-path-profile.md). A batch of up to `size` characters, and
 * every `flushMs` a partial one, is written in one synchronous call (in order, never split
 * mid-line, so lines from other writers to the same descriptor interleave only between lines).
 * A non-blocking pipe that answers EAGAIN keeps its data queued for the next flush instead of
 * stalling the event loop; past `maxQueued` bytes the oldest chunks are dropped rather than
 * growing without bound.
 */
export class LineWriter {
  private pending = '';
  /** Holds one encoded batch: a UTF-16 code unit is at most 3 UTF-8 bytes. */
  private readonly buffer: Buffer;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly fd: number,
    private readonly size = 64 * 1024,
    flushMs = 250,
    private readonly maxQueued = 16 * 1024 * 1024,
  ) {
    this.buffer = Buffer.allocUnsafe(3 * size);
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  line(text: string): void {
    this.write(`${text}\n`);
  }

  /** Text made of whole lines, each ending with a newline (pino's output). */
  write(lines: string): void {
    // Flush first, so that a batch fits the shared buffer (only a single line past `size` does not).
    if (this.pending.length + lines.length > this.size) this.flush();
    this.pending += lines;
    if (this.pending.length > this.size) this.flush();
  }

  /** Writes what is pending now; what the descriptor cannot take yet stays queued, in order. */
  flush(): void {
    if (this.pending.length > 0) {
      const text = this.pending;
      this.pending = '';
      // A batch that a single long line made larger than the buffer gets a buffer of its own.
      const chunk = text.length * 3 <= this.buffer.length ? this.buffer.subarray(0, this.buffer.write(text, 0)) : Buffer.from(text);
      const written = this.queue.length === 0 ? this.tryWrite(chunk) : 0;
      // What is left must outlive the shared buffer: queue a copy.
      if (written < chunk.length) this.enqueue(Buffer.from(chunk.subarray(written)));
    }
    this.drain();
  }

  /**
   * Writes everything pending, retrying a busy pipe for a bounded while (after the ready line,
   * shutdown, exit). Timed flushes go on: the service keeps logging after its ready line.
   */
  flushSync(): void {
    for (let tries = 0; tries < 1000 && (this.pending.length > 0 || this.queue.length > 0); tries++) this.flush();
  }

  /** Writes everything pending and stops the timed flushes. */
  close(): void {
    clearInterval(this.timer);
    this.flushSync();
  }

  /** Bytes written: 0 on EAGAIN; all of them when the descriptor is gone (everything queued is dropped). */
  private tryWrite(chunk: Buffer): number {
    try {
      return writeSync(this.fd, chunk);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
      // The descriptor is gone (closed pipe): drop the lines, never crash the service.
      this.queue.length = 0;
      this.queued = 0;
      return chunk.length;
    }
  }

  private enqueue(chunk: Buffer): void {
    this.queue.push(chunk);
    this.queued += chunk.length;
    while (this.queued > this.maxQueued && this.queue.length > 1) this.queued -= this.queue.shift()!.length;
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const chunk = this.queue[0]!;
      const written = this.tryWrite(chunk);
      if (written === 0) return;
      if (this.queue.length === 0) return; // dropped: the descriptor is gone
      this.queued -= written;
      if (written >= chunk.length) this.queue.shift();
      else this.queue[0] = chunk.subarray(written);
    }
  }
}
