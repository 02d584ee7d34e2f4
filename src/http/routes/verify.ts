import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { VerifyItemNotFound, VerifyRateLimited } from '../../errors.js';
import type { FoundItem } from '../../families/products/verify/item-port.js';
import { RateLimiter, DEFAULT_RATE_LIMIT, type RateLimitOptions } from '../../families/products/verify/rate-limit.js';
import { StoreCounterStore } from '../../families/products/verify/sun-counters.js';
import { loadOrCreateLogKey } from '../../families/products/verify/log-key-file.js';
import { PersistedLog } from '../../families/products/verify/log-store.js';
import { logRegistrations } from '../../families/products/verify/registration.js';
import { VerifyService, type VerifyServiceOptions } from '../../families/products/verify/verify-service.js';
import { ProductRegistry } from '../../families/products/registry.js';
import { prefixHandle } from '../../ids/handle.js';
import type { Service } from '../../service/bootstrap.js';
import { sendError } from '../problem.js';
import { inclusionSchema } from './log.js';
import { errorsFor, problem } from '../schemas.js';
import { sendHtml } from '../../web/html.js';
import { verifierPage } from '../../web/verifier-page.js';

/**
 * Device authenticity verification over HTTP (issue 6):
 *
 *   POST /api/verify/challenges   {"id"}                                -> 201 {challengeId, nonce, expiresAt, service, id}
 *   POST /api/verify              {id, challengeId?, evidence, context?} -> 200 {id, verdict, reasons, assurance, item, token, registration}
 *   GET  /01/{gtin}/21/{serial}   GS1 Digital Link: the item summary and how to verify it (JSON, or HTML for browsers)
 *
 * The verification log is persisted (log-store.ts) with its HMAC key in CAIRN_CERTS_DIR
 * (log-key-file.ts); SUN read counters on every accepted read (sun-counters.ts).
 *
 * Both POSTs are anonymous and rate-limited per client address (token bucket; 429
 * ERR_VERIFY_RATE_LIMITED with Retry-After); answers are never cached. Every well-formed verify
 * request gets 200 whatever the verdict; malformed ones get a 400 problem with a stable code.
 */
export interface VerifyRouteOptions {
  readonly rateLimit?: RateLimitOptions;
  readonly verify?: Partial<VerifyServiceOptions>;
  /** Told each verdict given (the `cairn_verify_verdicts_total` metric). */
  readonly onVerdict?: (verdict: string) => void;
}

const anyObject = { type: 'object', additionalProperties: true } as const;

/** The registration proof: as `GET /api/log/proof` answers it, with the signed tree head. */
const registrationSchema = {
  ...inclusionSchema,
  type: ['object', 'null'],
  description:
    "Inclusion proof (RFC 9162 2.1.3) of the change-log entry of the item record's first version, against the signed tree head `sth`; null for an unknown item, without a log (mirrors) or before the log caught up",
  required: [...inclusionSchema.required, 'sth'],
} as const;

const verifyAnswerSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'the canonical item id (the identifier as asked, for an unknown item)' },
    verdict: { type: 'string' },
    reasons: { type: 'array', items: { type: 'string' } },
    assurance: { type: 'string' },
    item: {
      type: ['object', 'null'],
      properties: { class: { type: 'string' }, manufacturer: { type: 'string' }, status: { type: 'string' } },
      required: ['class', 'manufacturer', 'status'],
      additionalProperties: false,
    },
    token: { type: 'string', description: 'compact JWS (typ verdict+jwt); its logLeaf and logTreeSize claims bind `registration`' },
    registration: registrationSchema,
  },
  required: ['id', 'verdict', 'reasons', 'assurance', 'item', 'token', 'registration'],
  additionalProperties: false,
} as const;

type VerifySettings = Pick<
  Config,
  'verifyMaxSpeedKmh' | 'verifyRetentionSeconds' | 'verifyRateLimit' | 'verifyRatePerSecond' | 'verifyChallengeTtlSeconds' | 'verifyTokenLifetimeSeconds'
>;

/** The `CAIRN_VERIFY_*` settings as `buildApp`'s `verify` option (src/server.ts passes them). */
export function verifyRouteOptions(config: VerifySettings): VerifyRouteOptions {
  return {
    rateLimit: { capacity: config.verifyRateLimit, refillPerSecond: config.verifyRatePerSecond },
    verify: {
      anomalyRules: { maxSpeedKmh: config.verifyMaxSpeedKmh },
      log: { retentionMs: config.verifyRetentionSeconds * 1000 },
      challengeTtlSeconds: config.verifyChallengeTtlSeconds,
      tokenLifetimeSeconds: config.verifyTokenLifetimeSeconds,
    },
  };
}

export function verifyRoutes(app: FastifyInstance, service: Service, options: VerifyRouteOptions = {}): VerifyService {
  // The registry's read side is stateless over the store: the service's own, or one of our own.
  const registry = service.products?.registry ?? new ProductRegistry(service.store, { prefix: service.config.prefix });
  // The log's HMAC key lives beside the signing keys, so that the persisted log stays usable across restarts.
  const secret = options.verify?.log?.secret ?? loadOrCreateLogKey(service.config.certsDir);
  const verifier = new VerifyService((id) => registry.findItem(id), service.signer, {
    service: prefixHandle(service.config.prefix),
    counters: new StoreCounterStore(service.store),
    ...(service.log ? { registrations: logRegistrations(service.log, service.signer, prefixHandle(service.config.prefix)) } : {}),
    ...options.verify,
    log: { ...options.verify?.log, secret },
  });
  const persisted = new PersistedLog(service.store, verifier.log);
  app.addHook('onReady', async () => {
    await persisted.load();
    persisted.start();
  });
  app.addHook('onClose', () => persisted.stop());
  const limiter = new RateLimiter({ ...DEFAULT_RATE_LIMIT, ...options.rateLimit });

  // Before the body is read: a refused client costs no parsing.
  const limited = (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const decision = limiter.take(req.ip);
    if (decision.ok) return done();
    reply.header('retry-after', String(decision.retryAfterSeconds));
    sendError(req, reply, new VerifyRateLimited(`Too many verification requests from this address; retry in ${decision.retryAfterSeconds} s`));
  };

  app.post(
    '/api/verify/challenges',
    {
      onRequest: limited,
      schema: {
        summary: 'A single-use challenge (32-byte nonce, at most 120 s) for verifying one item; body {"id": handle, /01/{gtin}/21/{serial} or imei:<15 digits>}',
        tags: ['verify'],
        response: { 201: anyObject, ...errorsFor(problem, 400, 413, 415, 429) },
      },
    },
    async (req, reply) => reply.code(201).header('cache-control', 'no-store').send(await verifier.issueChallenge(req.body)),
  );

  app.post(
    '/api/verify',
    {
      onRequest: limited,
      schema: {
        summary:
          'Verify an item: body {id, challengeId, evidence: {type: none | device-signature | x509-chain | sun, ...}, context: {purpose, country, geohash}, proof: boolean (default false: with true the answer carries the transparency-log proof of the item\'s registration)}; 200 with a signed verdict for every well-formed request',
        tags: ['verify'],
        response: { 200: verifyAnswerSchema, ...errorsFor(problem, 400, 404, 409, 410, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const answer = await verifier.verify(req.body);
      options.onVerdict?.(answer.verdict);
      return reply.header('cache-control', 'no-store').send(answer);
    },
  );

  app.get(
    '/01/:gtin/21/:serial',
    {
      schema: {
        summary: 'GS1 Digital Link: the item with this GTIN and serial, and how to verify it (HTML for browsers)',
        tags: ['verify'],
        params: { type: 'object', properties: { gtin: { type: 'string' }, serial: { type: 'string' } } },
        response: { 200: anyObject, ...errorsFor(problem, 400, 404) },
      },
    },
    async (req, reply) => {
      const path = req.url.split('?')[0]!;
      const html = prefersHtml(req.headers.accept);
      reply.header('vary', 'Accept');
      const found = await registry.findItem(path);
      if (!found) {
        if (html) return sendHtml(reply, 404, verifierPage(path));
        throw new VerifyItemNotFound(`No item is registered as ${path}`);
      }
      const body = describe(verifier, found, path);
      if (!html) return body;
      return sendHtml(reply, 200, verifierPage(path, facts(body)));
    },
  );

  return verifier;
}

interface Description {
  readonly id: string;
  readonly link: string;
  readonly item: { class: string; manufacturer: string; status: string; product?: string };
  readonly evidence: string;
  readonly verify: Record<string, unknown>;
}

function describe(verifier: VerifyService, found: FoundItem, link: string): Description {
  const product = [found.cls.name, found.cls.model].filter(Boolean).join(' ');
  return {
    id: found.handle,
    link,
    item: { ...verifier.summary(found), ...(product ? { product } : {}) },
    evidence: found.cls.evidence,
    verify: {
      challenge: { method: 'POST', href: '/api/verify/challenges', body: { id: found.handle } },
      verify: { method: 'POST', href: '/api/verify', body: { id: found.handle, challengeId: '<from the challenge>', evidence: { type: found.cls.evidence } } },
      signedMessage: 'RFC 8785 (JCS) bytes of {"v":1,"svc":<service>,"id":<id>,"nonce":<nonce>,"cid":<challengeId>}',
      keys: '/.well-known/jwks.json',
    },
  };
}

/** A browser asks for text/html ahead of JSON; API clients (and `*\/*`) get JSON. */
function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = accept.indexOf('text/html');
  const json = accept.indexOf('application/json');
  return html >= 0 && (json < 0 || html < json);
}

/** The page's summary of a GS1 Digital Link item (the verifier page, src/web, runs the check). */
function facts(d: Description): [string, string][] {
  return [
    ['Identifier', d.id],
    ['Product', d.item.product ?? d.item.class],
    ['Manufacturer', d.item.manufacturer],
    ['Status', d.item.status],
  ];
}
