import { writeSync } from 'node:fs';

/**
 * Buffered writer of whole lines to a file descriptor (stdout for the access log). Lines are
 * encoded into a preallocated buffer; a full buffer, and every `flushMs` a partial one, is written
 * in one synchronous call (one syscall per buffer, in order, never split mid-line, so lines from
 * other writers to the same descriptor interleave only between lines). A non-blocking pipe that
 * answers EAGAIN keeps its data queued for the next flush instead of stalling the event loop;
 * past `maxQueued` bytes the oldest buffers are dropped rather than growing without bound.
 */
export class LineWriter {
  private buffer: Buffer;
  private length = 0;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly fd: number,
    private readonly size = 64 * 1024,
    flushMs = 250,
    private readonly maxQueued = 16 * 1024 * 1024,
  ) {
    this.buffer = Buffer.allocUnsafe(size);
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  line(text: string): void {
    // A UTF-16 code unit is at most 3 UTF-8 bytes; +1 for the newline.
    const max = text.length * 3 + 1;
    if (this.length + max > this.size) this.flush();
    if (max > this.size) {
      this.enqueue(Buffer.from(`${text}\n`));
      this.drain();
      return;
    }
    this.length += this.buffer.write(text, this.length);
    this.buffer[this.length++] = 0x0a;
  }

  /** Writes what is buffered now; what the descriptor cannot take yet stays queued, in order. */
  flush(): void {
    if (this.length > 0) {
      this.enqueue(this.buffer.subarray(0, this.length));
      this.buffer = Buffer.allocUnsafe(this.size);
      this.length = 0;
    }
    this.drain();
  }

  /** Writes everything pending, retrying a busy pipe for a bounded while (shutdown, exit). */
  flushSync(): void {
    clearInterval(this.timer);
    for (let tries = 0; tries < 1000 && (this.length > 0 || this.queue.length > 0); tries++) this.flush();
  }

  private enqueue(chunk: Buffer): void {
    this.queue.push(chunk);
    this.queued += chunk.length;
    while (this.queued > this.maxQueued && this.queue.length > 1) this.queued -= this.queue.shift()!.length;
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const chunk = this.queue[0]!;
      let written: number;
      try {
        written = writeSync(this.fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return;
        // The descriptor is gone (closed pipe): drop the lines, never crash the service.
        this.queue.length = 0;
        this.queued = 0;
        return;
      }
      this.queued -= written;
      if (written >= chunk.length) this.queue.shift();
      else this.queue[0] = chunk.subarray(written);
    }
  }
}
