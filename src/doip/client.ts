import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { DoipMessageInvalid } from '../errors.js';
import { parseResponse, type ParsedResponse } from './message.js';
import { encodeMessage, jsonSegment, SegmentParser, type DoipSegment, DEFAULT_SEGMENT_LIMITS, type SegmentLimits } from './segments.js';

/**
 * A minimal DOIP v2.0 client over TLS: one connection, requests answered in order. For tools and
 * tests; the server side does not use it.
 */
export interface DoipClientRequest {
  readonly requestId?: string;
  readonly clientId?: string;
  readonly targetId: string;
  readonly operationId: string;
  readonly attributes?: Record<string, unknown>;
  readonly authentication?: Record<string, unknown>;
  readonly input?: unknown;
}

export class DoipClient {
  private readonly parser: SegmentParser;
  private readonly waiting: { resolve: (r: ParsedResponse) => void; reject: (e: Error) => void }[] = [];
  private closedError: Error | undefined;

  private constructor(readonly socket: TLSSocket, limits: SegmentLimits) {
    this.parser = new SegmentParser(limits);
    socket.on('data', (chunk: Buffer) => {
      let messages: DoipSegment[][];
      try {
        messages = this.parser.push(chunk);
      } catch (e) {
        this.failAll(e as Error);
        socket.destroy();
        return;
      }
      for (const m of messages) {
        const next = this.waiting.shift();
        if (!next) continue;
        try {
          next.resolve(parseResponse(m));
        } catch (e) {
          next.reject(e as Error);
        }
      }
    });
    socket.on('error', (e) => this.failAll(e));
    socket.on('close', () => this.failAll(new DoipMessageInvalid('The connection closed before the answer arrived')));
  }

  static connect(options: ConnectionOptions & { host: string; port: number }, limits: SegmentLimits = { ...DEFAULT_SEGMENT_LIMITS, maxMessageBytes: 64 * 1024 * 1024, maxSegmentBytes: 64 * 1024 * 1024 }): Promise<DoipClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(options, () => {
        socket.off('error', reject);
        resolve(new DoipClient(socket, limits));
      });
      socket.once('error', reject);
    });
  }

  private failAll(e: Error): void {
    this.closedError ??= e;
    for (const w of this.waiting.splice(0)) w.reject(e);
  }

  /** Sends the request (its JSON, then `segments` after it) and waits for its answer. */
  send(request: DoipClientRequest, segments: readonly DoipSegment[] = []): Promise<ParsedResponse> {
    return this.sendRaw(encodeMessage([jsonSegment(request), ...segments]));
  }

  /** Sends bytes as they are (for malformed input) and waits for the next answer. */
  sendRaw(bytes: Uint8Array): Promise<ParsedResponse> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(bytes);
    });
  }

  close(): void {
    this.socket.end();
  }
}
