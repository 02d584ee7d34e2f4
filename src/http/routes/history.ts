import type { FastifyInstance } from 'fastify';
import { HandleNotFound, HistoryBeforeCreation, OidNotFound, QueryInvalid } from '../../errors.js';
import { oidRecordKey } from '../../families/oid/oid-service.js';
import { isoSeconds, valueToJson } from '../../records/handle-json.js';
import type { StoredRecord } from '../../records/record.js';
import type { ChangeEntry } from '../../store/store.js';
import { parseIdentifier } from '../../ids/scheme.js';
import { tombstoneJson } from '../../families/doa/views.js';
import { isPublicRead, type HandleValue } from '../../records/value.js';
import type { Service } from '../../service/bootstrap.js';
import { requirePrincipal } from '../auth.js';
import { errorsFor, problem } from '../schemas.js';

const anyObject = { type: 'object', additionalProperties: true } as const;

/**
 * What of old versions a reader may see: what was public then and is not hidden now. A value
 * made admin-only later (an index turned private, an OID registrant turned confidential) stays
 * hidden in every earlier version too.
 */
function visibleNow(current: StoredRecord): (v: HandleValue) => boolean {
  const hiddenIndexes = new Set(current.values.filter((v) => !isPublicRead(v)).map((v) => v.index));
  const hiddenTypes = new Set(current.values.filter((v) => !isPublicRead(v)).map((v) => v.type));
  return (v) => isPublicRead(v) && !hiddenIndexes.has(v.index) && !(current.family === 'oid' && hiddenTypes.has(v.type));
}

function versionsView(current: StoredRecord, older: readonly StoredRecord[]) {
  const visible = visibleNow(current);
  return [...older, current].map((r) => ({
    version: r.version,
    status: r.status,
    updated: isoSeconds(r.updated),
    ...(r.tombstone ? { tombstone: tombstoneJson(r.tombstone) } : {}),
    values: r.values.filter(visible).map(valueToJson),
  }));
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** `asOf=`: an ISO-8601 instant with a zone, as seconds since the epoch (fractions dropped). */
function parseAsOf(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const text = Array.isArray(raw) ? raw.at(-1) : raw;
  const ms = typeof text === 'string' && ISO_TIME.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms) || ms < 0) throw new QueryInvalid('asOf must be an ISO-8601 time with a zone, e.g. 2026-01-02T03:04:05Z');
  return Math.floor(ms / 1000);
}

/**
 * The version in force at `asOf`: the last one written at or before it (times are whole seconds,
 * so a write during that second counts). Before the first version the record did not exist.
 */
function versionAsOf(id: string, current: StoredRecord, older: readonly StoredRecord[], asOf: number) {
  const all = [...older, current];
  let at = -1;
  for (let i = 0; i < all.length; i++) if (all[i]!.updated <= asOf) at = i;
  if (at < 0) {
    const created = isoSeconds(all[0]!.created);
    throw new HistoryBeforeCreation(`${id} did not exist at ${isoSeconds(asOf)}; it was created at ${created}`, { id, created });
  }
  return { id, asOf: isoSeconds(asOf), ...versionsView(current, older)[at]! };
}

/** Every version of a record, and the change feed that orders all writes. */
export function historyRoutes(app: FastifyInstance, service: Service): void {
  app.get(
    '/api/history/*',
    {
      schema: {
        summary: 'All versions of a record, oldest first, each with its signed public values; `asOf` gives the version in force then',
        tags: ['history'],
        params: { type: 'object', properties: { '*': { type: 'string' } } },
        querystring: {
          type: 'object',
          properties: { asOf: { type: 'string', description: 'ISO-8601 time with a zone: answer the one version in force at that instant' } },
        },
        // 409: an its: id whose type the sign never had.
        response: { 200: anyObject, ...errorsFor(problem, 400, 404, 409) },
      },
    },
    async (req) => {
      const text = (req.params as { '*': string })['*'];
      // OID-IRIs go through the registry, which also knows the labels registered with PUT.
      const id = /^oid:\//i.test(text)
        ? { family: 'oid' as const, oid: await service.oids.resolveIri(text) }
        : /^its-issuer:/i.test(text)
          ? { family: 'its-issuer' as const, issuer: text.slice('its-issuer:'.length) }
          : parseIdentifier(text);
      const asOf = parseAsOf((req.query as { asOf?: unknown }).asOf);
      if (id.family === 'oid') {
        const current = service.oids.find(id.oid);
        if (!current) throw new OidNotFound(`${id.oid.text} is not registered`, { oid: id.oid.text });
        const older = await service.store.historyOf(oidRecordKey(id.oid));
        if (asOf !== undefined) return versionAsOf(`urn:oid:${current.id}`, current, older, asOf);
        return { id: `urn:oid:${current.id}`, versions: versionsView(current, older) };
      }
      if (id.family === 'its-issuer') {
        const { current, older } = await service.its.issuerHistory(id.issuer);
        if (asOf !== undefined) return versionAsOf(current.id, current, older, asOf);
        return { id: current.id, versions: versionsView(current, older) };
      }
      if (id.family === 'its') {
        const { current, older } = await service.its.history(id.its);
        if (asOf !== undefined) return versionAsOf(current.id, current, older, asOf);
        return { id: current.id, versions: versionsView(current, older) };
      }
      const handle = service.handles.parseServed(id.handle.text);
      const current = service.handles.findRecord(handle);
      if (!current) throw new HandleNotFound(`No record for hdl:${handle.text}`);
      const older = await service.store.historyOf(handle.key);
      if (asOf !== undefined) return versionAsOf(`hdl:${current.id}`, current, older, asOf);
      return { id: `hdl:${current.id}`, versions: versionsView(current, older) };
    },
  );

  app.get(
    '/api/changes',
    {
      schema: {
        summary: 'The change log after position `since`, in commit order (needs LIST_HANDLES on the service prefix)',
        tags: ['history'],
        querystring: {
          type: 'object',
          properties: { since: { type: 'string', description: 'change-log position, default 0' }, limit: { type: 'string', description: '1-1000, default 100' } },
        },
        response: { 200: anyObject, ...errorsFor(problem, 400, 401, 403, 429) },
      },
    },
    async (req) => {
      // The feed names every identifier written, so it is for those who may list handles.
      const who = await requirePrincipal(req, service.handles);
      service.handles.requireListing(who);
      const q = req.query as { since?: string; limit?: string };
      const since = q.since === undefined ? 0 : Number(q.since);
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (!/^\d{1,15}$/.test(q.since ?? '0')) throw new QueryInvalid('since must be a change-log position (0 or more)');
      if (!/^\d{1,4}$/.test(q.limit ?? '100') || limit < 1 || limit > 1000) throw new QueryInvalid('limit must be 1 to 1000');
      const entries = await service.store.changesSince(since, limit);
      // ITS records are named as themselves (`its:…`, `its-issuer:…`): they are no handles.
      const label = (e: ChangeEntry): string => (e.key.startsWith('oid:') ? `urn:oid:${e.id}` : e.family === 'its' ? e.id : `hdl:${e.id}`);
      const changes = entries.map((e) => ({ seq: e.seq, id: label(e), version: e.version, op: e.op, at: isoSeconds(e.at) }));
      return { since, next: entries.at(-1)?.seq ?? since, last: service.store.lastSeq, changes };
    },
  );
}
