import { createServer, type TLSSocket } from 'node:tls';
import { CairnError, DoipTimeout, InternalError } from '../errors.js';
import { errorResult, requestFromSegments, responseSegments, DOIP_STATUS, type DoipResult } from './message.js';
import { objectToJson } from './objects.js';
import type { DoipSeries } from '../http/metrics.js';
import type { DoipService, Outcome } from './operations.js';
import { bytesSegment, encodeMessage, jsonSegment, SegmentParser, DEFAULT_SEGMENT_LIMITS, type DoipSegment, type SegmentLimits } from './segments.js';

/**
 * DOIP v2.0 over TLS: one request at a time per connection, answered in order (a client may send
 * the next request before the answer arrives). Costs are bounded per connection:
 *
 * - the TLS handshake must finish within `idleTimeoutMs`;
 * - a connection with no traffic for `idleTimeoutMs` is closed (one that said nothing, silently;
 *   one inside a message, after an `ERR_DOIP_TIMEOUT` response);
 * - a message must be complete within `messageTimeoutMs` of its first byte (a trickling client
 *   cannot hold a connection open forever);
 * - the segment limits bound what is buffered; a violation is answered and the connection closed,
 *   since the framing can no longer be trusted;
 * - at most `maxPipelined` requests wait for processing before the connection stops being read.
 */

export interface DoipListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  readonly limits?: SegmentLimits;
  readonly idleTimeoutMs?: number;
  readonly messageTimeoutMs?: number;
  readonly maxConnections?: number;
  readonly maxPipelined?: number;
  /** Unexpected failures (bugs), for the log. */
  readonly onError?: (e: unknown) => void;
  /** Counts each answered request (`cairn_doip_*` in /metrics). */
  readonly metrics?: DoipSeries;
}

export interface DoipListener {
  readonly host: string;
  readonly port: number;
  /** Open connections. */
  connections(): number;
  close(): Promise<void>;
}

export const DOIP_IDLE_TIMEOUT_MS = 30_000;
export const DOIP_MESSAGE_TIMEOUT_MS = 60_000;

/** A transport's rendering of an operation outcome: JSON inline, element bytes as segments. */
export function outcomeResult(outcome: Outcome): DoipResult {
  switch (outcome.kind) {
    case 'json':
      return { status: DOIP_STATUS.success, ...(outcome.output !== undefined ? { output: outcome.output } : {}) };
    case 'element':
      return { status: DOIP_STATUS.success, outputSegments: [bytesSegment(outcome.element.data ?? Buffer.alloc(0))] };
    case 'object-with-data': {
      const segments: DoipSegment[] = [jsonSegment(objectToJson(outcome.object))];
      for (const e of outcome.object.elements) segments.push(jsonSegment({ id: e.id }), bytesSegment(e.data ?? Buffer.alloc(0)));
      return { status: DOIP_STATUS.success, outputSegments: segments };
    }
  }
}

/** The requestId of a message whose request could not be read, if its first segment still says. */
function requestIdOf(segments: readonly DoipSegment[]): string | undefined {
  const first = segments[0];
  if (first?.kind !== 'json') return undefined;
  try {
    const json = JSON.parse(first.text) as { requestId?: unknown };
    return typeof json.requestId === 'string' && json.requestId.length <= 512 ? json.requestId : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one message through the operations; always yields a response. */
export async function answer(
  doip: DoipService,
  segments: readonly DoipSegment[],
  onError: (e: unknown) => void,
  address?: string,
  observe?: (operationId: string | undefined, status: string) => void,
): Promise<DoipSegment[]> {
  let requestId: string | undefined;
  let operationId: string | undefined;
  try {
    const request = requestFromSegments(segments);
    requestId = request.requestId;
    operationId = request.operationId;
    const outcome = await doip.execute(request, { credentialsAllowed: true, ...(address !== undefined ? { address } : {}) });
    const result = outcomeResult(outcome);
    observe?.(operationId, result.status);
    return responseSegments(requestId, result);
  } catch (e) {
    if (!(e instanceof CairnError)) onError(e);
    const error = e instanceof CairnError ? e : new InternalError();
    const result = errorResult(error);
    observe?.(operationId, result.status);
    return responseSegments(requestId ?? requestIdOf(segments), result);
  }
}

export async function startDoipListener(doip: DoipService, options: DoipListenerOptions): Promise<DoipListener> {
  const limits = options.limits ?? DEFAULT_SEGMENT_LIMITS;
  const idleMs = options.idleTimeoutMs ?? DOIP_IDLE_TIMEOUT_MS;
  const messageMs = options.messageTimeoutMs ?? DOIP_MESSAGE_TIMEOUT_MS;
  const maxPipelined = options.maxPipelined ?? 8;
  const onError = options.onError ?? (() => undefined);
  const sockets = new Set<TLSSocket>();

  const server = createServer(
    { key: options.key, cert: options.cert, minVersion: 'TLSv1.2', handshakeTimeout: idleMs, allowHalfOpen: true },
    (socket) => serve(socket),
  );
  server.maxConnections = options.maxConnections ?? 512;
  // A failed or timed-out handshake: with a listener here, closing the socket is ours to do.
  server.on('tlsClientError', (_error, socket) => socket.destroy());

  function serve(socket: TLSSocket): void {
    sockets.add(socket);
    const parser = new SegmentParser(limits);
    let queue: Promise<void> = Promise.resolve();
    let waiting = 0;
    let closing = false;
    let messageTimer: NodeJS.Timeout | undefined;
    let graceTimer: NodeJS.Timeout | undefined;

    const stopMessageTimer = (): void => {
      if (messageTimer) clearTimeout(messageTimer);
      messageTimer = undefined;
    };
    const send = (segments: readonly DoipSegment[]): void => {
      if (socket.writable) socket.write(encodeMessage(segments));
    };
    /** Answers a transport-level failure, then closes: the stream can no longer be read. */
    const fail = (error: CairnError): void => {
      if (closing) return;
      closing = true;
      stopMessageTimer();
      socket.pause();
      queue = queue.then(() => {
        if (socket.writable) socket.end(encodeMessage(responseSegments(undefined, errorResult(error))));
      });
      // A client that does not read its answer does not keep the connection.
      graceTimer = setTimeout(() => socket.destroy(), 2_000);
      graceTimer.unref();
    };
    const enqueue = (segments: DoipSegment[]): void => {
      waiting++;
      if (waiting > maxPipelined) socket.pause();
      queue = queue.then(async () => {
        const started = performance.now();
        const observe = options.metrics && ((op: string | undefined, status: string) => options.metrics!.observe(op, status, (performance.now() - started) / 1000));
        const response = await answer(doip, segments, onError, socket.remoteAddress, observe || undefined);
        send(response);
        waiting--;
        if (!closing && waiting <= maxPipelined / 2 && socket.isPaused()) socket.resume();
      });
    };

    socket.setTimeout(idleMs);
    socket.on('timeout', () => {
      if (closing) return;
      if (parser.inMessage) {
        fail(new DoipTimeout(`No complete message within ${idleMs} ms of silence`));
      } else if (waiting === 0) {
        // Nothing asked, nothing owed: close (TLS close_notify), and drop a peer that lingers.
        closing = true;
        socket.end();
        graceTimer = setTimeout(() => socket.destroy(), 2_000);
        graceTimer.unref();
      }
    });
    socket.on('data', (chunk: Buffer) => {
      if (closing) return;
      let messages: DoipSegment[][];
      try {
        messages = parser.push(chunk);
      } catch (e) {
        fail(e instanceof CairnError ? e : new InternalError());
        return;
      }
      if (messages.length > 0) stopMessageTimer();
      for (const m of messages) enqueue(m);
      if (parser.inMessage && !messageTimer) {
        messageTimer = setTimeout(() => fail(new DoipTimeout(`The message was not complete within ${messageMs} ms`)), messageMs);
        messageTimer.unref();
      }
    });
    socket.on('end', () => {
      // The client is done sending: answer what it sent, then close our side.
      if (closing) return;
      try {
        parser.end();
      } catch (e) {
        fail(e instanceof CairnError ? e : new InternalError());
        return;
      }
      closing = true;
      void queue.then(() => socket.end());
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      stopMessageTimer();
      if (graceTimer) clearTimeout(graceTimer);
      sockets.delete(socket);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => onError(e));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  doip.listener = { host: options.host, port };
  return {
    host: options.host,
    port,
    connections: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
