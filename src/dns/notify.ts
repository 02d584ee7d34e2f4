import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { soaRecord, type OrsZoneOptions } from './ors-zone.js';
import { CLASS_IN, decodeMessage, MessageWriter, OPCODE, TYPE } from './wire.js';

export interface NotifyTarget {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` or `[v6]:port` entries of CAIRN_DNS_NOTIFY. */
export function parseNotifyTarget(text: string): NotifyTarget | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  return port > 0 && port <= 65535 ? { host: (m[1] ?? m[2])!, port } : undefined;
}

/**
 * Sends DNS NOTIFY (RFC 1996) for the zone to each secondary when the serial moves, retrying
 * until the secondary acknowledges or the attempts run out. Changes in a burst are coalesced: a
 * notify in flight is re-sent with the newest serial rather than queued once per change.
 */
export class Notifier {
  private readonly sockets = new Map<string, Socket>();
  /** Per target, the NOTIFY in flight: its message id and the timer of its next attempt. */
  private readonly inFlight = new Map<NotifyTarget, { id: number; timer: NodeJS.Timeout }>();
  private nextId = Math.floor(Math.random() * 0xffff);
  private closed = false;

  constructor(
    private readonly zone: OrsZoneOptions,
    private readonly targets: readonly NotifyTarget[],
    private readonly options: { attempts: number; intervalMs: number; onError?: (e: Error) => void } = { attempts: 5, intervalMs: 2000 },
  ) {}

  /** Announces `serial`; a NOTIFY still being retried for an older serial is replaced, not repeated. */
  notify(serial: number): void {
    for (const target of this.targets) {
      this.cancel(target);
      this.send(target, serial, 1);
    }
  }

  private cancel(target: NotifyTarget): void {
    const current = this.inFlight.get(target);
    if (current) clearTimeout(current.timer);
    this.inFlight.delete(target);
  }

  private socket(target: NotifyTarget): Socket {
    const family = isIPv6(target.host) ? 'udp6' : 'udp4';
    let socket = this.sockets.get(family);
    if (!socket) {
      socket = createSocket(family);
      socket.on('error', (e) => this.options.onError?.(e));
      socket.on('message', (msg) => this.acknowledged(msg));
      socket.unref();
      this.sockets.set(family, socket);
    }
    return socket;
  }

  private acknowledged(msg: Buffer): void {
    let id: number;
    try {
      const m = decodeMessage(msg);
      if (!m.header.qr || m.header.opcode !== OPCODE.NOTIFY) return;
      id = m.header.id;
    } catch {
      return; // not a NOTIFY answer
    }
    for (const [target, current] of this.inFlight) if (current.id === id) this.cancel(target);
  }

  private send(target: NotifyTarget, serial: number, attempt: number): void {
    if (this.closed) return;
    const id = (this.nextId = (this.nextId + 1) & 0xffff);
    const w = new MessageWriter(128);
    w.header({ id, qr: false, opcode: OPCODE.NOTIFY, aa: true, tc: false, rd: false, ra: false, ad: false, cd: false, rcode: 0 });
    w.question({ name: this.zone.apex, type: TYPE.SOA, class: CLASS_IN });
    w.record(1, soaRecord(this.zone, serial));
    this.socket(target).send(w.finish(), target.port, target.host);
    if (attempt >= this.options.attempts) {
      this.inFlight.delete(target);
      return;
    }
    const timer = setTimeout(() => this.send(target, serial, attempt + 1), this.options.intervalMs);
    timer.unref();
    this.inFlight.set(target, { id, timer });
  }

  close(): void {
    this.closed = true;
    for (const target of [...this.inFlight.keys()]) this.cancel(target);
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
