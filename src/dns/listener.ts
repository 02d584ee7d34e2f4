import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { DnsSeries } from '../http/metrics.js';
import type { OrsResponder } from './responder.js';

export interface DnsListenerOptions {
  readonly host: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  readonly port: number;
  readonly responder: OrsResponder;
  /** Idle TCP connections are closed after this long (RFC 7766 section 6.2.3). */
  readonly tcpIdleMs?: number;
  readonly maxTcpConnections?: number;
  readonly onError?: (e: unknown) => void;
  /** Counts each answered message (`cairn_dns_*` in /metrics). */
  readonly metrics?: DnsSeries;
}

export interface DnsListener {
  readonly port: number;
  close(): Promise<void>;
}

/** The ORS responder on UDP and TCP at one address and port. */
export async function startDnsListener(options: DnsListenerOptions): Promise<DnsListener> {
  const attempts = options.port === 0 ? 5 : 1;
  for (let i = 1; ; i++) {
    const udp = await bindUdp(options);
    const port = udp.address().port;
    try {
      const tcp = await listenTcp(options, port);
      return {
        port,
        close: async () => {
          await new Promise<void>((resolve) => udp.close(() => resolve()));
          await closeTcp(tcp);
        },
      };
    } catch (e) {
      udp.close();
      // With port 0 the TCP side of the free UDP port may be taken: try another.
      if (i >= attempts || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    }
  }
}

function bindUdp(options: DnsListenerOptions): Promise<UdpSocket> {
  const { responder, onError, metrics } = options;
  // Replies go to the address a datagram came from, always an IP literal: no resolver lookup.
  const type = isIPv6(options.host) ? 'udp6' : 'udp4';
  const socket = createSocket({
    type,
    lookup: (address, _opts, callback) => (callback as (e: null, a: string, f: number) => void)(null, address, type === 'udp6' ? 6 : 4),
  });
  const reply = (out: Buffer | Buffer[] | undefined, port: number, address: string): void => {
    if (out) socket.send(out, port, address);
  };
  socket.on('message', (msg, rinfo) => {
    const started = metrics ? performance.now() : 0;
    // The cached path answers synchronously; only misses wait for the store.
    const hot = responder.cachedUdpParts(msg);
    if (hot) {
      reply(hot, rinfo.port, rinfo.address);
      metrics?.observe('udp', msg, hot, (performance.now() - started) / 1000);
      return;
    }
    responder.respondUdp(msg).then((out) => {
      reply(out, rinfo.port, rinfo.address);
      metrics?.observe('udp', msg, out, (performance.now() - started) / 1000);
    }, onError);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port, options.host, () => {
      socket.off('error', reject);
      socket.on('error', (e) => onError?.(e));
      resolve(socket);
    });
  });
}

function listenTcp(options: DnsListenerOptions, port: number): Promise<Server> {
  const idle = options.tcpIdleMs ?? 10_000;
  const server = createServer({ noDelay: true }, (socket) => serveConnection(socket, options, idle));
  server.maxConnections = options.maxTcpConnections ?? 256;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

const connections = new WeakMap<Server, Set<Socket>>();

function closeTcp(server: Server): Promise<void> {
  for (const socket of connections.get(server) ?? []) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** RFC 1035 section 4.2.2 framing: each message preceded by its two-octet length; queries may be pipelined. */
function serveConnection(socket: Socket, options: DnsListenerOptions, idleMs: number): void {
  const server = (socket as Socket & { server?: Server }).server;
  if (server) {
    let set = connections.get(server);
    if (!set) connections.set(server, (set = new Set()));
    set.add(socket);
    socket.once('close', () => set.delete(socket));
  }
  socket.setTimeout(idleMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  let pending = Buffer.alloc(0);
  let queue = Promise.resolve();
  const send = (message: Buffer): Promise<void> => {
    if (socket.destroyed) return Promise.resolve();
    const frame = Buffer.allocUnsafe(2 + message.length);
    frame.writeUInt16BE(message.length, 0);
    message.copy(frame, 2);
    return socket.write(frame) ? Promise.resolve() : new Promise((resolve) => socket.once('drain', resolve));
  };
  socket.on('data', (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const length = pending.readUInt16BE(0);
      if (length < 12) {
        socket.destroy(); // not a DNS message; nothing sensible to answer
        return;
      }
      if (pending.length < 2 + length) break;
      const query = Buffer.from(pending.subarray(2, 2 + length));
      pending = pending.subarray(2 + length);
      queue = queue.then(() => respondTcp(options, query, socket.remoteAddress ?? '', send)).catch((e) => {
        options.onError?.(e);
        socket.destroy();
      });
    }
  });
}

/** One TCP query through the responder, counted (with the first message of its answer) when metrics are on. */
async function respondTcp(options: DnsListenerOptions, query: Buffer, address: string, send: (message: Buffer) => Promise<void>): Promise<void> {
  const metrics = options.metrics;
  if (!metrics) return options.responder.respondTcp(query, address, send);
  const started = performance.now();
  let first: Buffer | undefined;
  await options.responder.respondTcp(query, address, (message) => {
    first ??= message;
    return send(message);
  });
  metrics.observe('tcp', query, first, (performance.now() - started) / 1000);
}
