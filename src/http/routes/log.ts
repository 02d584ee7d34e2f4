import type { FastifyInstance } from 'fastify';
import { QueryInvalid } from '../../errors.js';
import { prefixHandle } from '../../ids/handle.js';
import { recordKeyOf } from '../../log/locate.js';
import { consistencyJson, inclusionJson } from '../../log/proof-json.js';
import type { TransparencyLog } from '../../log/transparency-log.js';
import { signTreeHead, type SignedTreeHead } from '../../log/tree-head.js';
import type { Service } from '../../service/bootstrap.js';
import { errorsFor, problem } from '../schemas.js';

const base64 = { type: 'string', description: 'base64 (standard alphabet)' } as const;
const count = { type: 'integer', minimum: 0 } as const;

/** A signed tree head as the log routes (and verdicts with a proof) answer it. */
export const sthSchema = {
  type: 'object',
  description: 'Signed tree head; `signature` is a compact JWS (typ tree-head+jwt) over iss, iat, treeSize, rootHash, timestamp',
  properties: { treeSize: count, rootHash: base64, timestamp: { type: 'integer', description: 'ms since the epoch' }, signature: { type: 'string' } },
  required: ['treeSize', 'rootHash', 'timestamp', 'signature'],
  additionalProperties: false,
} as const;

/** An inclusion proof as `GET /api/log/proof` (and verdicts with a proof) answer it. */
export const inclusionSchema = {
  type: 'object',
  properties: {
    leafIndex: count,
    treeSize: count,
    rootHash: base64,
    leaf: {
      type: 'object',
      properties: {
        data: base64,
        hash: base64,
        seq: count,
        at: { type: 'integer', description: 'seconds since the epoch' },
        op: { type: 'string', enum: ['create', 'update', 'delete'] },
        family: { type: 'string' },
        id: { type: 'string' },
        version: count,
        digest: { type: 'string', nullable: true },
      },
      required: ['data', 'hash', 'seq', 'at', 'op', 'family', 'id', 'version', 'digest'],
      additionalProperties: false,
    },
    auditPath: { type: 'array', items: base64 },
    sth: sthSchema,
  },
  required: ['leafIndex', 'treeSize', 'rootHash', 'leaf', 'auditPath'],
  additionalProperties: false,
} as const;

const consistencySchema = {
  type: 'object',
  properties: {
    first: count,
    second: count,
    firstRootHash: base64,
    secondRootHash: base64,
    consistencyPath: { type: 'array', items: base64 },
    sth: sthSchema,
  },
  required: ['first', 'second', 'firstRootHash', 'secondRootHash', 'consistencyPath'],
  additionalProperties: false,
} as const;

/** A query parameter that must be a whole number (at least `min`) when present. */
function whole(raw: unknown, name: string, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const text = Array.isArray(raw) ? raw.at(-1) : raw;
  if (typeof text !== 'string' || !/^\d{1,15}$/.test(text) || Number(text) < min) {
    throw new QueryInvalid(`${name} must be a whole number${min > 0 ? ` of at least ${min}` : ''}`, { parameter: name });
  }
  return Number(text);
}

/**
 * The transparency log (src/log/): the signed tree head, inclusion proofs of record versions and
 * consistency proofs between tree sizes. Registered only where the service keeps a log.
 */
export function logRoutes(app: FastifyInstance, service: Service, log: TransparencyLog): void {
  const issuer = prefixHandle(service.config.prefix);
  const sth = (size: number): SignedTreeHead => signTreeHead(service.signer, issuer, { treeSize: size, rootHash: log.root(size) });

  app.get(
    '/api/log/sth',
    {
      schema: {
        summary: 'The signed tree head of the transparency log (one leaf per change-log entry)',
        tags: ['log'],
        response: { 200: sthSchema, ...errorsFor(problem, 500) },
      },
    },
    async (_req, reply) => {
      const size = await log.current();
      return reply.header('cache-control', 'no-store').send(sth(size));
    },
  );

  app.get(
    '/api/log/proof',
    {
      schema: {
        summary: 'Inclusion proof (RFC 9162 2.1.3) of a record version against the current tree head or a given tree size',
        tags: ['log'],
        querystring: {
          type: 'object',
          properties: {
            id: { type: 'string', description: 'the record: hdl:/bare handle, urn:oid:, its:sign:, its-issuer:' },
            version: { type: 'string', description: 'record version (default: its last logged version)' },
            treeSize: { type: 'string', description: 'tree size to prove against (default: the current signed tree head, included as `sth`)' },
          },
        },
        response: { 200: inclusionSchema, ...errorsFor(problem, 400, 404, 500) },
      },
    },
    async (req) => {
      const q = req.query as Record<string, unknown>;
      const idRaw = Array.isArray(q.id) ? q.id.at(-1) : q.id;
      if (typeof idRaw !== 'string' || idRaw === '') throw new QueryInvalid('id is required: the identifier of a record', { parameter: 'id' });
      const version = whole(q.version, 'version', 1);
      const treeSize = whole(q.treeSize, 'treeSize', 0);
      const key = recordKeyOf(idRaw);
      const size = treeSize ?? (await log.current());
      const proof = inclusionJson(await log.inclusion(key, version, size, idRaw));
      return treeSize === undefined ? { ...proof, sth: sth(size) } : proof;
    },
  );

  app.get(
    '/api/log/consistency',
    {
      schema: {
        summary: 'Consistency proof (RFC 9162 2.1.4) between tree sizes first and second (default: the current signed tree head, included as `sth`)',
        tags: ['log'],
        querystring: {
          type: 'object',
          properties: { first: { type: 'string', description: 'the earlier tree size (1 or more)' }, second: { type: 'string', description: 'the later tree size' } },
        },
        response: { 200: consistencySchema, ...errorsFor(problem, 400, 500) },
      },
    },
    async (req) => {
      const q = req.query as Record<string, unknown>;
      if (q.first === undefined) throw new QueryInvalid('first is required: a tree size', { parameter: 'first' });
      const first = whole(q.first, 'first', 0)!;
      const second = whole(q.second, 'second', 0);
      const size = second ?? (await log.current());
      const proof = consistencyJson(await log.consistency(first, size));
      return second === undefined ? { ...proof, sth: sth(size) } : proof;
    },
  );
}
