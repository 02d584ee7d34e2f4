import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { LineWriter } from './line-writer.js';

/**
 * Logging for the HTTP adapter, kept off the hot path's bill:
 * - one access line per request, written when the response is done (fastify's default writes two);
 * - every line (pino's and the access lines) goes through one buffered writer on stdout, so a log
 *   line is not a syscall, lines stay in order, and a quiet service writes nothing (pino's own
 *   buffered destination wrote an empty chunk through libuv's thread pool on every timed flush);
 * - per-request child loggers created only when something actually logs through them.
 */
export interface Logging {
  readonly logger: Logger;
  /** Present when the level lets `info` through. */
  readonly access: AccessLog | undefined;
  /** Writes every buffered line now (after the ready line, at shutdown); timed flushes go on. */
  flushSync(): void;
}

/** `fd`: where the lines go, stdout unless a test says otherwise. */
export function createLogging(level: string, fd = 1): Logging {
  const out = new LineWriter(fd);
  // pino's lines end with a newline already.
  const logger = pino({ level }, { write: (line: string) => out.write(line) });
  const access = logger.isLevelEnabled('info') ? new AccessLog(out) : undefined;
  flushAtExit(out);
  return {
    logger,
    access,
    flushSync() {
      out.flushSync();
    },
  };
}

const atExit = new Set<LineWriter>();

/** What is still buffered when the process exits (an error exit too) is written, not lost. */
function flushAtExit(out: LineWriter): void {
  if (atExit.size === 0) {
    process.once('exit', () => {
      for (const w of atExit) w.flushSync();
    });
  }
  atExit.add(out);
}

// Printable ASCII without `"` and `\` needs no escaping in JSON.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function jsonString(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text);
}

/**
 * Access lines in pino's own line format (level 30, time, msg), written straight to the log
 * destination: serialising a fixed shape by hand costs a fraction of pino's generic path, and an
 * access line is written for every request.
 */
export class AccessLog {
  private counter = 0;
  constructor(private readonly out: LineWriter) {}

  nextId(): string {
    return `r${(++this.counter).toString(36)}`;
  }

  write(reqId: string, method: string, url: string, status: number, ms: number): void {
    this.out.line(
      `{"level":30,"time":${Date.now()},"msg":"request","reqId":"${reqId}","method":${jsonString(method)},"url":${jsonString(url)},"status":${status},"ms":${Math.round(ms * 100) / 100}}`,
    );
  }

  flushSync(): void {
    this.out.flushSync();
  }
}

/** Stands in for `logger.child(bindings)` until a method is called, then becomes that child. */
class LazyChild {
  private real: FastifyBaseLogger | undefined;
  constructor(private readonly parent: FastifyBaseLogger, private readonly bindings: Record<string, unknown>) {}
  private get log(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindings));
  }
  get level(): string {
    return this.parent.level;
  }
  set level(level: string) {
    this.log.level = level;
  }
  fatal(...a: unknown[]): void {
    (this.log.fatal as (...x: unknown[]) => void)(...a);
  }
  error(...a: unknown[]): void {
    (this.log.error as (...x: unknown[]) => void)(...a);
  }
  warn(...a: unknown[]): void {
    (this.log.warn as (...x: unknown[]) => void)(...a);
  }
  info(...a: unknown[]): void {
    (this.log.info as (...x: unknown[]) => void)(...a);
  }
  debug(...a: unknown[]): void {
    (this.log.debug as (...x: unknown[]) => void)(...a);
  }
  trace(...a: unknown[]): void {
    (this.log.trace as (...x: unknown[]) => void)(...a);
  }
  silent(): void {}
  child(bindings: Record<string, unknown>): FastifyBaseLogger {
    return this.log.child(bindings);
  }
}

export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Record<string, unknown>): FastifyBaseLogger {
  return new LazyChild(logger, bindings) as unknown as FastifyBaseLogger;
}

/** The access log: one line per request with method, URL, status and time. */
export function registerAccessLog(app: FastifyInstance, access: AccessLog): void {
  app.addHook('onResponse', (req, reply, done) => {
    access.write(req.id, req.method, req.url, reply.statusCode, reply.elapsedTime);
    done();
  });
}
