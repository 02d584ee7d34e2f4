import { CairnError } from '../errors.js';
import { TwoGenerationCache } from '../store/view-cache.js';
import { answerQuestion, type Answer } from './ors-answer.js';
import type { OrsSource } from './ors-source.js';
import type { OrsZoneOptions } from './ors-zone.js';
import { transferMessages } from './transfer.js';
import { CLASS_ANY, CLASS_IN, decodeHeader, decodeMessage, MessageWriter, OPCODE, RCODE, TYPE, type Edns, type Message, type Question } from './wire.js';

/** The largest UDP answer we send (RFC 9715 / DNS flag day 2020: avoid IP fragmentation). */
export const UDP_PAYLOAD = 1232;
const PLAIN_UDP = 512;

export interface ResponderOptions {
  readonly zone: OrsZoneOptions;
  readonly source: OrsSource;
  /** Answers kept per cache generation. */
  readonly cacheSize?: number;
  /** Addresses allowed to transfer the zone (AXFR/IXFR). */
  readonly transferAllow: readonly string[];
  readonly onError?: (e: unknown) => void;
}

interface Cached {
  /** The response for the folded question; ID, RD/CD and the question's case are patched per query. */
  readonly full: Buffer;
  /** The same with TC set and no records, for UDP clients whose buffer is too small. */
  readonly truncated: Buffer;
}

/**
 * Turns DNS queries into responses. The hot path (`cachedAnswer`) recognises a plain query for
 * an answer it has built before and patches a copy of it, parsing only the header and the
 * question; everything else goes through the full parser. The cache is dropped whenever the zone
 * serial moves, so no answer outlives the data it came from.
 */
export class OrsResponder {
  private cache: TwoGenerationCache<string, Cached>;
  private readonly cacheSize: number;

  constructor(private readonly options: ResponderOptions) {
    this.cacheSize = options.cacheSize ?? 50_000;
    this.cache = new TwoGenerationCache(this.cacheSize);
    options.source.onSerial(() => {
      this.cache = new TwoGenerationCache(this.cacheSize);
    });
  }

  /** A response from the cache for a plain query, or undefined when the full path must run. */
  cachedAnswer(query: Buffer, udp: boolean): Buffer | undefined {
    const q = scanQuery(query);
    if (!q) return undefined;
    const hit = this.cache.get(q.key);
    if (!hit) return undefined;
    const tooBig = udp && hit.full.length > q.udpLimit;
    const out = Buffer.from(tooBig ? hit.truncated : hit.full);
    patch(out, query, q.questionEnd);
    return out;
  }

  /**
   * The cached response to a plain UDP query as the pieces to send, [header, question, rest]:
   * the header patched, the question the asker's own bytes, the rest shared with the cache, so
   * nothing is copied but twelve octets.
   */
  cachedUdpParts(query: Buffer): Buffer[] | undefined {
    const q = scanQuery(query);
    if (!q) return undefined;
    const hit = this.cache.get(q.key);
    if (!hit) return undefined;
    const message = hit.full.length > q.udpLimit ? hit.truncated : hit.full;
    const header = Buffer.allocUnsafe(12);
    // Twelve assignments: Buffer#copy's generic path cost 4% of a cached answer (read-path profile).
    for (let i = 0; i < 12; i++) header[i] = message[i]!;
    patch(header, query, undefined);
    return [header, query.subarray(12, q.questionEnd), message.subarray(q.questionEnd)];
  }

  /** The response to one UDP datagram; undefined means drop it (responses, garbage). */
  async respondUdp(query: Buffer): Promise<Buffer | undefined> {
    return this.cachedAnswer(query, true) ?? (await this.respond(query, true))[0];
  }

  /** SERVFAIL for a query the zone could not be read for; the error goes to `onError`. */
  private failed(query: Message, e: unknown): Buffer {
    this.options.onError?.(e);
    return errorResponse(query, RCODE.SERVFAIL);
  }

  /**
   * Responses to one query over TCP: usually one message, several for a zone transfer. Transfers
   * are allowed only to `transferAllow`.
   */
  async respondTcp(query: Buffer, remoteAddress: string, send: (message: Buffer) => Promise<void>): Promise<void> {
    const cached = this.cachedAnswer(query, false);
    if (cached) return send(cached);
    const parsed = parseOrFail(query);
    if (!('header' in parsed)) {
      if (parsed.reply) await send(parsed.reply);
      return;
    }
    const q = parsed.questions[0];
    if (q && parsed.header.opcode === OPCODE.QUERY && (q.type === TYPE.AXFR || q.type === TYPE.IXFR) && parsed.questions.length === 1) {
      if (!this.options.transferAllow.includes(normaliseAddress(remoteAddress))) {
        return send(errorResponse(parsed, RCODE.REFUSED));
      }
      try {
        for await (const message of transferMessages(this.options.zone, this.options.source, parsed, q)) await send(message);
      } catch (e) {
        // Mid-transfer the stream cannot be mended: the secondary sees the connection end and retries.
        this.options.onError?.(e);
        throw e;
      }
      return;
    }
    const [response] = await this.respond(query, false, parsed);
    if (response) await send(response);
  }

  private async respond(query: Buffer, udp: boolean, preParsed?: Message): Promise<[Buffer | undefined]> {
    const parsed = preParsed ?? parseOrFail(query);
    if (!('header' in parsed)) return [parsed.reply];
    const { header, questions, edns } = parsed;
    if (header.opcode !== OPCODE.QUERY) return [errorResponse(parsed, RCODE.NOTIMP)];
    if (questions.length !== 1) return [errorResponse(parsed, RCODE.FORMERR)];
    if (edns && edns.version > 0) return [errorResponse(parsed, RCODE.BADVERS)];
    if (parsed.additional.some((rr) => rr.type === TYPE.TSIG)) return [errorResponse(parsed, RCODE.NOTAUTH)];
    const question = questions[0]!;
    if (question.class !== CLASS_IN && question.class !== CLASS_ANY) return [errorResponse(parsed, RCODE.REFUSED)];
    if (question.type === TYPE.AXFR) return [errorResponse(parsed, RCODE.NOTIMP)]; // only over TCP (RFC 5936 section 4.2)
    if (question.type === TYPE.IXFR) {
      // Over UDP an IXFR gets the current SOA: "ask again over TCP" (RFC 1995 section 2).
      try {
        return [encodeResponse(parsed, question, await answerQuestion(this.options.zone, this.options.source, question.name, TYPE.SOA))];
      } catch (e) {
        return [this.failed(parsed, e)];
      }
    }
    const serial = this.options.source.serial();
    let answer: Answer;
    try {
      answer = await answerQuestion(this.options.zone, this.options.source, question.name, question.type);
    } catch (e) {
      return [this.failed(parsed, e)];
    }
    const folded: Question = { ...question, name: question.name.map((l) => l.replace(/[A-Z]/g, (c) => c.toLowerCase())) };
    const full = encodeResponse(parsed, folded, answer);
    const truncated = encodeResponse(parsed, folded, { ...answer, answers: [], authority: [], additional: [] }, true);
    // Only answers computed at the serial still current are kept.
    if (this.options.source.serial() === serial && question.class === CLASS_IN) {
      const scanned = scanQuery(query);
      if (scanned) this.cache.set(scanned.key, { full, truncated });
    }
    const limit = udp ? (edns ? Math.max(PLAIN_UDP, Math.min(edns.udpSize, UDP_PAYLOAD)) : PLAIN_UDP) : 65535;
    const out = Buffer.from(full.length > limit ? truncated : full);
    patch(out, query, questionEnd(query));
    return [out];
  }
}

/** The parsed query, or what to answer instead: FORMERR for garbage with a header, nothing for responses. */
function parseOrFail(query: Buffer): Message | { reply: Buffer | undefined } {
  try {
    const message = decodeMessage(query);
    return message.header.qr ? { reply: undefined } : message; // never answer a response
  } catch (e) {
    if (!(e instanceof CairnError) || query.length < 12) return { reply: undefined };
    const header = decodeHeader(query);
    if (header.qr) return { reply: undefined };
    const w = new MessageWriter(12);
    w.header({ ...header, qr: true, aa: false, tc: false, ra: false, ad: false, rcode: RCODE.FORMERR });
    return { reply: w.finish() };
  }
}

function errorResponse(query: Message, rcode: number): Buffer {
  const q = query.questions[0];
  return encodeResponse(query, query.questions.length === 1 && q ? q : undefined, { rcode, authoritative: false, answers: [], authority: [], additional: [] });
}

export function encodeResponse(query: Message, question: Question | undefined, answer: Answer, truncated = false): Buffer {
  const w = new MessageWriter(512);
  w.header({
    id: query.header.id,
    qr: true,
    opcode: query.header.opcode,
    aa: answer.authoritative,
    tc: truncated,
    rd: query.header.rd,
    ra: false,
    ad: false,
    cd: query.header.cd,
    rcode: answer.rcode & 0xf,
  });
  if (question) w.question(question);
  for (const rr of answer.answers) w.record(1, rr);
  for (const rr of answer.authority) w.record(2, rr);
  for (const rr of answer.additional) w.record(3, rr);
  if (query.edns) w.opt(UDP_PAYLOAD, answer.rcode >> 4, query.edns.dnssecOk);
  return w.finish();
}

/**
 * Copies the query's ID, RD and CD bits and its question (keeping the asker's letter case). The
 * question is copied only when it is written out in full (`questionEnd` defined), so that its
 * length is the length of the question in `out`.
 */
function patch(out: Buffer, query: Buffer, questionEnd: number | undefined): void {
  out[0] = query[0]!;
  out[1] = query[1]!;
  out[2] = (out[2]! & ~0x01) | (query[2]! & 0x01);
  out[3] = (out[3]! & ~0x10) | (query[3]! & 0x10);
  if (questionEnd !== undefined && out.readUInt16BE(4) === 1 && questionEnd <= out.length) query.copy(out, 12, 12, questionEnd);
}

/** End of a query's single question when its name has no compression pointer; else undefined. */
function questionEnd(query: Buffer): number | undefined {
  let at = 12;
  while (at < query.length && query[at]! !== 0) {
    if ((query[at]! & 0xc0) !== 0) return undefined;
    at += 1 + query[at]!;
  }
  return at + 1 + 4 <= query.length ? at + 1 + 4 : undefined;
}

interface ScannedQuery {
  readonly key: string;
  readonly questionEnd: number;
  readonly udpLimit: number;
}

/**
 * Recognises the common query (QUERY opcode, one question, no answer or authority records, at
 * most an EDNS0 version-0 OPT record) without building any objects but the cache key; anything
 * else is left to the full parser.
 */
function scanQuery(buf: Buffer): ScannedQuery | undefined {
  if (buf.length < 17) return undefined;
  if ((buf[2]! & 0xf8) !== 0) return undefined; // QR=0, OPCODE=QUERY
  if (buf.readUInt16BE(4) !== 1 || buf.readUInt16BE(6) !== 0 || buf.readUInt16BE(8) !== 0) return undefined;
  const arcount = buf.readUInt16BE(10);
  if (arcount > 1) return undefined;
  let at = 12;
  let upper = false;
  for (;;) {
    if (at >= buf.length) return undefined;
    const len = buf[at]!;
    if (len === 0) break;
    if (len > 63) return undefined;
    if (at + 1 + len > buf.length) return undefined;
    for (let i = at + 1; i <= at + len; i++) {
      const c = buf[i]!;
      if (c >= 0x41 && c <= 0x5a) upper = true;
      // toLowerCase below would also fold Latin-1 capitals, which DNS does not: such names skip the cache.
      else if (c >= 0xc0 && c <= 0xde && c !== 0xd7) return undefined;
    }
    at += 1 + len;
    if (at - 12 > 255) return undefined;
  }
  // The wire form itself is the key: length-prefixed labels, so a "." inside a label cannot alias another name.
  const wire = buf.toString('latin1', 12, at);
  const key = upper ? wire.toLowerCase() : wire;
  at += 1;
  if (at + 4 > buf.length) return undefined;
  const qtype = buf.readUInt16BE(at);
  if (buf.readUInt16BE(at + 2) !== CLASS_IN || qtype === TYPE.AXFR || qtype === TYPE.IXFR) return undefined;
  const questionEnd = at + 4;
  let udpLimit = PLAIN_UDP;
  let edns = 0;
  if (arcount === 1) {
    const o = questionEnd;
    // OPT: root owner, TYPE 41, CLASS = payload size, TTL = ext-rcode/version/flags, RDLENGTH.
    if (o + 11 > buf.length || buf[o] !== 0 || buf.readUInt16BE(o + 1) !== TYPE.OPT) return undefined;
    if (buf[o + 6] !== 0) return undefined; // EDNS version other than 0: BADVERS, full path
    const rdlength = buf.readUInt16BE(o + 9);
    if (o + 11 + rdlength !== buf.length) return undefined;
    udpLimit = Math.max(PLAIN_UDP, Math.min(buf.readUInt16BE(o + 3), UDP_PAYLOAD));
    edns = (buf[o + 7]! & 0x80) !== 0 ? 2 : 1;
  } else if (questionEnd !== buf.length) {
    return undefined;
  }
  return { key: `${qtype} ${edns} ${key}`, questionEnd, udpLimit };
}

/** IPv4-mapped IPv6 addresses as their IPv4 form, so an allow list of 127.0.0.1 matches them. */
export function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export type { Edns };
