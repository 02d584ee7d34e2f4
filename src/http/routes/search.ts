import type { FastifyInstance } from 'fastify';
import { QueryInvalid } from '../../errors.js';
import { ensureValueIndex, findHandlesByValue, readValuePermission } from '../../families/doa/reverse-index.js';
import type { Service } from '../../service/bootstrap.js';
import { requirePrincipal } from '../auth.js';
import { errorsFor, problem } from '../schemas.js';

type Query = Record<string, string | string[] | undefined>;

const last = (q: Query, name: string): string | undefined => {
  const v = q[name];
  return Array.isArray(v) ? v.at(-1) : v;
};

function count(q: Query, name: string, fallback: number, min: number, max: number): number {
  const v = last(q, name);
  if (v === undefined || v === '') return fallback;
  if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw new QueryInvalid(`${name} must be an integer from ${min} to ${max}`);
  return Number(v);
}

export const MAX_PAGE_SIZE = 1000;

/**
 * Reverse lookup: `GET /api/search?type=URL&value=https://example.org/` lists the handles holding
 * a value of that type (case-insensitive) whose data is exactly `value` (UTF-8), through the
 * value index (families/doa/reverse-index.ts), never a scan of the records. Paged (`page` from 0,
 * `pageSize` 1-1000, default 100), in handle key order. Anonymous callers find publicly readable
 * values only; with credentials, also admin-only values of records the identity may read.
 *
 * Registering the route first lists the handles stored before the index existed (once per data
 * directory).
 */
export async function searchRoutes(app: FastifyInstance, service: Service): Promise<void> {
  await ensureValueIndex(service.store);
  app.get(
    '/api/search',
    {
      schema: {
        summary: 'Find handles by an exact value (reverse lookup through an index)',
        tags: ['handles'],
        querystring: {
          type: 'object',
          properties: {
            type: { type: 'string', description: 'value type, e.g. URL (case-insensitive)' },
            value: { type: 'string', description: 'the exact value, as UTF-8 text' },
            page: { type: 'string', description: 'from 0, default 0' },
            pageSize: { type: 'string', description: `1-${MAX_PAGE_SIZE}, default 100` },
          },
        },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorsFor(problem, 400, 401, 403, 429) },
      },
      validatorCompiler: () => () => true,
    },
    async (req) => {
      const q = req.query as Query;
      const type = last(q, 'type');
      const value = last(q, 'value');
      if (!type) throw new QueryInvalid('type= is required, e.g. type=URL');
      if (value === undefined) throw new QueryInvalid('value= is required: the exact value, as text');
      const page = count(q, 'page', 0, 0, 100_000_000);
      const pageSize = count(q, 'pageSize', 100, 1, MAX_PAGE_SIZE);
      // Credentials are optional; when given they must be good.
      const who = req.headers.authorization === undefined ? undefined : await requirePrincipal(req, service.handles);
      const mayRead = who && readValuePermission(who, service.handles.liveValues);
      const found = await findHandlesByValue(service.store, mayRead, type, Buffer.from(value, 'utf8'), { offset: page * pageSize, limit: pageSize });
      return { type, value, page, pageSize, totalCount: found.totalCount, handles: found.handles };
    },
  );
}
