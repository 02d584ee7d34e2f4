import type { FastifyInstance, FastifyReply } from 'fastify';
import { BodyInvalid, MediaTypeUnsupported, ProductItemNotFound } from '../../errors.js';
import { parseDerivedPrefixRequest } from '../../families/doa/prefixes.js';
import { parseHandle } from '../../ids/handle.js';
import type { Service } from '../../service/bootstrap.js';
import { requirePrincipal } from '../auth.js';
import { errorsFor, problem } from '../schemas.js';

const anyObject = { type: 'object', additionalProperties: true } as const;
const prefixParam = { prefix: { type: 'string', description: 'the manufacturer prefix, e.g. 20.5000.7' } } as const;
const classParam = { classId: { type: 'string', description: 'letters, digits, ".", "_", "-" (at most 64)' } } as const;
const serialParam = { serial: { type: 'string', description: 'letters, digits, ".", "_", "-" (at most 64; at most 20 for an item with a GTIN)' } } as const;
const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson'];

type Params = { prefix: string; classId: string; serial: string };

const noStore = (reply: FastifyReply): FastifyReply => reply.header('cache-control', 'no-store');

/**
 * The product registry over HTTP (issue 6): manufacturers with their trust anchors and CRLs,
 * product classes, items and their lifecycle, bulk registration; problem+json errors. Writes need
 * the service admin or the manufacturer's identity (`300:0.NA/<prefix>`). Items resolve through
 * `/api/handles/<prefix>/<serial>` and `/api/resolve/hdl:<prefix>/<serial>` like any handle;
 * `/api/products/lookup/{id}` finds them by alias too (`imei:…`, `/01/{gtin}/21/{serial}`).
 */
export function productRoutes(app: FastifyInstance, service: Service): void {
  const products = service.products;
  if (!products) return;
  const { handles } = service;

  app.post(
    '/api/manufacturers',
    {
      schema: {
        summary: 'Register a manufacturer (service admin): a derived prefix <prefix>.<n> with its own admin identity and secret (shown once)',
        tags: ['products'],
        body: { description: '{"name": "Acme Devices", "suffix"?: "7"}' },
        response: { 201: anyObject, ...errorsFor(problem, 400, 401, 403, 409, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const who = await requirePrincipal(req, handles);
      const created = await products.createManufacturer(who, parseDerivedPrefixRequest(req.body));
      return noStore(reply.code(201).header('location', `/api/manufacturers/${created.prefix}`)).send(created);
    },
  );

  app.get(
    '/api/manufacturers/:prefix',
    {
      schema: {
        summary: 'A manufacturer: name, admin identity, trust anchors and CRLs (described), signed record',
        tags: ['products'],
        params: { type: 'object', properties: prefixParam },
        response: { 200: anyObject, ...errorsFor(problem, 404) },
      },
    },
    async (req) => products.manufacturerView((req.params as Params).prefix),
  );

  app.put(
    '/api/manufacturers/:prefix/anchors',
    {
      schema: {
        summary: "Replace the manufacturer's X.509 trust anchors (CA certificates, EC P-256 or RSA, not expired)",
        tags: ['products'],
        params: { type: 'object', properties: prefixParam },
        body: { description: '{"anchors": ["-----BEGIN CERTIFICATE-----\\n...", ...]} (an entry may hold several certificates)' },
        response: { 200: anyObject, ...errorsFor(problem, 400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (req) => {
      const who = await requirePrincipal(req, handles);
      const { prefix } = req.params as Params;
      const outcome = await products.putAnchors(prefix, req.body, who);
      return { ...products.manufacturerView(prefix), droppedCrls: outcome.droppedCrls };
    },
  );

  app.put(
    '/api/manufacturers/:prefix/crls',
    {
      schema: {
        summary: "Replace the manufacturer's CRLs (each issued and signed by a registered anchor)",
        tags: ['products'],
        params: { type: 'object', properties: prefixParam },
        body: { description: '{"crls": ["-----BEGIN X509 CRL-----\\n...", ...]}' },
        response: { 200: anyObject, ...errorsFor(problem, 400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (req) => {
      const who = await requirePrincipal(req, handles);
      const { prefix } = req.params as Params;
      await products.putCrls(prefix, req.body, who);
      return products.manufacturerView(prefix);
    },
  );

  app.put(
    '/api/products/:prefix/classes/:classId',
    {
      schema: {
        summary: 'Create or replace a product class and the evidence it requires',
        tags: ['products'],
        params: { type: 'object', properties: { ...prefixParam, ...classParam } },
        body: {
          description:
            '{"name", "model", "evidence": "none"|"device-signature"|"x509-chain"|"sun", "gtin"?, "sunKeys"?: {"metaKey": 32 hex, "fileKey": 32 hex}, "maxVerificationsPerDay"?}',
        },
        response: { 200: anyObject, 201: anyObject, ...errorsFor(problem, 400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const who = await requirePrincipal(req, handles);
      const { prefix, classId } = req.params as Params;
      const { created } = await products.putClass(prefix, classId, req.body, who);
      return reply.code(created ? 201 : 200).send(products.classView(prefix, classId));
    },
  );

  app.get(
    '/api/products/:prefix/classes/:classId',
    {
      schema: {
        summary: 'A product class (its SUN keys are never shown)',
        tags: ['products'],
        params: { type: 'object', properties: { ...prefixParam, ...classParam } },
        response: { 200: anyObject, ...errorsFor(problem, 400, 404) },
      },
    },
    async (req) => {
      const { prefix, classId } = req.params as Params;
      return products.classView(prefix, classId);
    },
  );

  app.put(
    '/api/products/:prefix/items/:serial',
    {
      schema: {
        summary: 'Register an item (the handle <prefix>/<serial>, status active) or replace its fields (the status stays)',
        tags: ['products'],
        params: { type: 'object', properties: { ...prefixParam, ...serialParam } },
        body: {
          description: '{"class", "devicePublicKey"?: JWK or SPKI PEM, "deviceCertificate"?: PEM, "sunUid"?: 14 hex, "lot"?, "madeAt"?, "gtin"?, "imei"?}',
        },
        response: { 200: anyObject, 201: anyObject, ...errorsFor(problem, 400, 401, 403, 404, 409, 410, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const who = await requirePrincipal(req, handles);
      const { prefix, serial } = req.params as Params;
      const result = await products.putItem(prefix, serial, req.body, who);
      return reply
        .code(result.created ? 201 : 200)
        .header('location', `/api/products/${prefix}/items/${encodeURIComponent(serial)}`)
        .send(products.itemView(prefix, serial));
    },
  );

  app.get(
    '/api/products/:prefix/items/:serial',
    {
      schema: {
        summary: 'An item: class, status, aliases, device key or certificate, signed record',
        tags: ['products'],
        params: { type: 'object', properties: { ...prefixParam, ...serialParam } },
        response: { 200: anyObject, ...errorsFor(problem, 400, 404, 410) },
      },
    },
    async (req) => {
      const { prefix, serial } = req.params as Params;
      return products.itemView(prefix, serial);
    },
  );

  app.post(
    '/api/products/:prefix/items/:serial/status',
    {
      schema: {
        summary: "Change an item's status (a new version; history keeps the old ones). destroyed is final",
        tags: ['products'],
        params: { type: 'object', properties: { ...prefixParam, ...serialParam } },
        body: { description: '{"status": "active"|"recalled"|"stolen"|"consumed"|"destroyed"|"key-compromised", "reason": "..."}' },
        response: { 200: anyObject, ...errorsFor(problem, 400, 401, 403, 404, 409, 410, 413, 415, 429) },
      },
    },
    async (req) => {
      const who = await requirePrincipal(req, handles);
      const { prefix, serial } = req.params as Params;
      return products.setStatus(prefix, serial, req.body, who);
    },
  );

  // Bulk registration takes NDJSON: a scope of its own, so the parser applies to this route only.
  void app.register(async (bulk) => {
    bulk.removeAllContentTypeParsers();
    bulk.addContentTypeParser(NDJSON_TYPES, { parseAs: 'string' }, (_req, body, done) => done(null, body));
    bulk.post(
      '/api/products/:prefix/items',
      {
        schema: {
          summary: 'Bulk registration: NDJSON, a manifest line {"manifestId", "count", "prefix"?} then one item per line with "serial"; idempotent by manifest id; a result per row',
          tags: ['products'],
          params: { type: 'object', properties: prefixParam },
          response: { 200: anyObject, ...errorsFor(problem, 400, 401, 403, 404, 413, 415, 422, 429) },
        },
      },
      async (req, reply) => {
        const who = await requirePrincipal(req, handles);
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!NDJSON_TYPES.includes(type)) throw new MediaTypeUnsupported('Bulk registration takes application/x-ndjson');
        if (typeof req.body !== 'string') throw new BodyInvalid('The body must be NDJSON text');
        const { replayed, result } = await products.registerBatch((req.params as Params).prefix, req.body, who);
        if (replayed) reply.header('idempotent-replayed', 'true');
        return noStore(reply).send(result);
      },
    );
  });

  app.get(
    '/api/products/lookup/*',
    {
      schema: {
        summary: 'Find an item by any of its identifiers: handle (hdl: optional), GS1 Digital Link path /01/{gtin}/21/{serial} or URI, imei:<15 digits>',
        tags: ['products'],
        params: { type: 'object', properties: { '*': { type: 'string' } } },
        response: { 200: anyObject, ...errorsFor(problem, 400, 404) },
      },
    },
    async (req) => {
      const id = (req.params as { '*': string })['*'];
      const found = await products.findItem(id);
      if (!found || found.record.status !== 'active') throw new ProductItemNotFound(`No item has the identifier ${id.slice(0, 80)}`, { id: id.slice(0, 80) });
      return { via: found.via, ...products.itemView(found.manufacturer.prefix, parseHandle(found.handle).suffix) };
    },
  );
}
