import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CairnError, HandleDeleted, HandleNotFound, QueryInvalid, RouteNotFound } from '../../errors.js';
import type { HandleService } from '../../families/doa/handle-service.js';
import { handleResponse, publicValues, tombstoneJson } from '../../families/doa/views.js';
import type { Handle } from '../../ids/handle.js';
import { isoSeconds, valueToJson } from '../../records/handle-json.js';
import type { StoredRecord } from '../../records/record.js';
import { typeMatches, type HandleValue } from '../../records/value.js';
import { escapeHtml, htmlPage, sendHtml } from '../../web/html.js';
import { errorPage } from '../../web/error-page.js';
import { recordPage } from '../../web/record-pages.js';
import { JSON_TYPE } from '../caching.js';

/**
 * Proxy resolution as hdl.handle.net does it: `GET /{handle}` redirects to the record's location.
 *
 * - Without a `10320/loc` value: the first `URL` value, else the first `URL.*` subtype (Handle.Net's
 *   legacy rule), `302`.
 * - With `10320/loc` values (Handle.Net's XML, `<locations><location href="..." weight="..."
 *   view="..." .../></locations>`): the `<location>` entries, plus the `URL` values at weight 0
 *   (`urlWeight`, `urlSubtypeWeight` and `no_legacy` on `<locations>` change that), narrowed by
 *   the `chooseby` (or `choose_by`) list, default `locatt,address,country,score,weighted`:
 *   `locatt` keeps the entries with the attribute given by each `locatt=name:value` (or
 *   `locatt=name`) parameter, unless none has it; `score` keeps the highest `score`; `weighted`
 *   picks at random in proportion to `weight` (default 1; all 0: uniformly). `address` and
 *   `country` need client geolocation and are skipped. `href_template` with `{hdl}` or
 *   `{hdl:path}` is expanded; `http_sc` (on the entry or on `<locations>`) may ask for 301, 303,
 *   307 or 308 instead of 302.
 * - `?urlappend=` is appended to the chosen URL as given.
 * - `?noredirect`, or a record with nothing to redirect to: the record itself, an HTML page for
 *   clients that prefer `text/html` (browsers; src/web/record-pages.ts), else Handle.Net's JSON
 *   (the bytes `/api/handles/{handle}` serves).
 * - Unknown handles 404, tombstones 410 (with the tombstone), HTML or problem+json by `Accept`.
 *
 * Only handles served here are proxied; any other path (`/api/...`, `/docs`, `/healthz` are
 * routes of their own and always win) answers ERR_ROUTE_NOT_FOUND as before. Locations whose URL
 * is not absolute, or uses `javascript:`, `data:` or `vbscript:`, are never redirected to.
 */

const LOC_TYPE = '10320/loc';
const DEFAULT_CHOOSEBY = ['locatt', 'address', 'country', 'score', 'weighted'];
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

type Query = Record<string, string | string[] | undefined>;
type Attributes = Readonly<Record<string, string>>;

// ------------------------------------------------------------------------------------------------
// 10320/loc

export interface Locations {
  /** Attributes of the `<locations>` element. */
  readonly attributes: Attributes;
  /** Attributes of each `<location>` element, in document order. */
  readonly entries: readonly Attributes[];
}

const ENTITY = /&(?:#x([0-9A-Fa-f]{1,6})|#(\d{1,7})|(amp|lt|gt|quot|apos));/g;
const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(ENTITY, (_m, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (name !== undefined) return NAMED[name]!;
    const cp = hex !== undefined ? parseInt(hex, 16) : Number(dec);
    return cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : '\uFFFD';
  });
}

function attributesOf(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const attr = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  for (let m = attr.exec(text); m !== null; m = attr.exec(text)) out[m[1]!] = decodeEntities(m[2] ?? m[3] ?? '');
  return out;
}

/**
 * Reads a 10320/loc value: the first element must be `<locations>`; its `<location>` children
 * (any depth) are the entries. Declarations, comments and CDATA are skipped. Anything else
 * (not XML, another root) is no locations at all, as a value the proxy cannot read.
 */
export function parseLocations(xml: string): Locations | undefined {
  const text = xml.replace(/<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<!DOCTYPE[^>]*>/gi, '');
  const tag = /<([A-Za-z_][\w:.-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*\/?>/g;
  let root: Record<string, string> | undefined;
  const entries: Attributes[] = [];
  for (let m = tag.exec(text); m !== null; m = tag.exec(text)) {
    const name = m[1]!.toLowerCase();
    if (root === undefined) {
      if (name !== 'locations' || text.slice(0, m.index).trim() !== '') return undefined;
      root = attributesOf(m[2] ?? '');
    } else if (name === 'location') entries.push(attributesOf(m[2] ?? ''));
  }
  return root === undefined ? undefined : { attributes: root, entries };
}

/** A location: its URL and the attributes the choosers read. */
interface Candidate {
  readonly href: string;
  readonly attributes: Attributes;
}

export interface Target {
  readonly url: string;
  readonly status: number;
}

const UNSAFE_SCHEME = /^(javascript|data|vbscript):/i;

/** An absolute URL with a scheme we redirect to; no control characters. */
function redirectable(url: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(url) && !UNSAFE_SCHEME.test(url) && !/[\u0000-\u001f\u007f]/.test(url);
}

/** The URL as a header can carry it: what is not visible ASCII percent-encoded as UTF-8. */
function locationHeader(url: string): string {
  return url.replace(/[^\x21-\x7e]/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '%EF%BF%BD'; // a lone surrogate: U+FFFD
    }
  });
}

const text = (v: HandleValue): string => Buffer.from(v.data).toString('utf8');

function numberAttribute(attributes: Attributes, name: string, fallback: number): number {
  const raw = attributes[name];
  if (raw === undefined) return fallback;
  const n = Number(raw.trim());
  return Number.isFinite(n) ? n : fallback;
}

function expandTemplate(template: string, handle: string): string {
  const path = handle.split('/').map(encodeURIComponent).join('/');
  return template.replaceAll('{hdl}', encodeURIComponent(handle)).replaceAll('{hdl:path}', path);
}

function weightedPick(candidates: readonly Candidate[], random: () => number): Candidate {
  const weights = candidates.map((c) => Math.max(0, numberAttribute(c.attributes, 'weight', 1)));
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) return candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))]!;
  const r = random() * total;
  let sum = 0;
  for (let i = 0; i < candidates.length; i++) {
    sum += weights[i]!;
    if (weights[i]! > 0 && sum > r) return candidates[i]!;
  }
  return candidates[weights.findLastIndex((w) => w > 0)]!;
}

function byLocatt(candidates: readonly Candidate[], locatt: string): Candidate[] {
  const colon = locatt.indexOf(':');
  const name = (colon < 0 ? locatt : locatt.slice(0, colon)).trim();
  const value = colon < 0 ? undefined : locatt.slice(colon + 1);
  return candidates.filter((c) => c.attributes[name] !== undefined && (value === undefined || c.attributes[name] === value));
}

function byScore(candidates: readonly Candidate[]): Candidate[] {
  const scores = candidates.map((c) => numberAttribute(c.attributes, 'score', 0));
  const best = Math.max(...scores);
  return candidates.filter((_, i) => scores[i] === best);
}

/**
 * Where the proxy redirects for these (publicly readable) values, or undefined when nowhere.
 * `random` is injectable so that tests can pin the weighted choice.
 */
export function chooseTarget(
  handle: string,
  values: readonly HandleValue[],
  options: { readonly locatt?: readonly string[]; readonly random?: () => number } = {},
): Target | undefined {
  const random = options.random ?? Math.random;
  const urls = values.filter((v) => typeMatches(v.type, 'URL.'));
  const plainUrls = urls.filter((v) => v.type.toUpperCase() === 'URL');
  const locValues = values.filter((v) => typeMatches(v.type, `${LOC_TYPE}.`));
  if (locValues.length === 0) {
    const first = [...plainUrls, ...urls.filter((v) => !plainUrls.includes(v))].map(text).find(redirectable);
    return first === undefined ? undefined : { url: first, status: 302 };
  }
  const parsed = locValues.map((v) => parseLocations(text(v))).filter((l): l is Locations => l !== undefined);
  const setting = (name: string): string | undefined => parsed.map((l) => l.attributes[name]).find((a) => a !== undefined);
  let candidates: Candidate[] = [];
  for (const l of parsed) {
    for (const attributes of l.entries) {
      const href = attributes.href ?? (attributes.href_template !== undefined ? expandTemplate(attributes.href_template, handle) : undefined);
      if (href !== undefined) candidates.push({ href, attributes });
    }
  }
  if (!/^(true|yes|1)$/i.test(setting('no_legacy') ?? '')) {
    const urlWeight = setting('urlWeight') ?? (parsed.length > 0 ? '0' : '1');
    const subtypeWeight = setting('urlSubtypeWeight') ?? '0';
    for (const v of urls) {
      candidates.push({ href: text(v), attributes: { weight: plainUrls.includes(v) ? urlWeight : subtypeWeight, mode: 'legacy' } });
    }
  }
  candidates = candidates.filter((c) => redirectable(c.href));
  if (candidates.length === 0) return undefined;
  const chooseBy = (setting('chooseby') ?? setting('choose_by'))?.split(',') ?? DEFAULT_CHOOSEBY;
  let chosen: Candidate | undefined;
  for (const raw of chooseBy) {
    if (candidates.length === 1) break;
    const by = raw.trim().toLowerCase();
    if (by === 'locatt') {
      for (const locatt of options.locatt ?? []) {
        const kept = byLocatt(candidates, locatt);
        if (kept.length > 0) candidates = kept;
      }
    } else if (by === 'score') candidates = byScore(candidates);
    else if (by === 'weighted') {
      chosen = weightedPick(candidates, random);
      break;
    }
  }
  chosen ??= candidates.length === 1 ? candidates[0]! : weightedPick(candidates, random);
  const code = Number(chosen.attributes.http_sc ?? setting('http_sc') ?? 302);
  return { url: chosen.href, status: REDIRECT_CODES.has(code) ? code : 302 };
}

// ------------------------------------------------------------------------------------------------
// Content negotiation and pages

/** The q-value an Accept header gives a media type (exact, then `type/*`, then `*\/*`). */
function quality(accept: string, type: string): number {
  const [major] = type.split('/');
  let best = -1;
  let q = 0;
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const specificity = range === type ? 3 : range === `${major}/*` ? 2 : range === '*/*' ? 1 : 0;
    if (specificity === 0 || specificity < best) continue;
    const qp = params.find((p) => p.startsWith('q='));
    const value = qp === undefined ? 1 : Number(qp.slice(2));
    if (specificity > best) q = Number.isFinite(value) ? value : 0;
    best = specificity;
  }
  return best < 0 ? 0 : q;
}

/** HTML only for clients that rank it above JSON (browsers); no Accept or `*\/*` gets JSON. */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  return quality(accept, 'text/html') > quality(accept, 'application/json');
}

const handlePath = (handle: string): string => handle.split('/').map(encodeURIComponent).join('/');

function valueCell(v: HandleValue): string {
  const data = valueToJson(v).data;
  if (data.format === 'string') {
    const s = data.value;
    return /^https?:\/\/\S+$/i.test(s) && typeMatches(v.type, 'URL.') ? `<a href="${escapeHtml(s)}" rel="nofollow noreferrer">${escapeHtml(s)}</a>` : escapeHtml(s);
  }
  return `<span>${escapeHtml(data.format)}:</span> ${escapeHtml(JSON.stringify(data.value))}`;
}

/**
 * A handle's page: its public values rendered here (readable without JavaScript), then the
 * browser-side sections of every record page (signature check, history: src/web/record-pages.ts).
 */
export function handleRecordPage(record: StoredRecord): string {
  const rows = publicValues(record.values)
    .map(
      (v) =>
        `<tr><td>${v.index}</td><td>${escapeHtml(v.type)}</td><td>${v.timestamp !== 0 ? isoSeconds(v.timestamp) : ''}</td><td class="data">${valueCell(v)}</td></tr>`,
    )
    .join('\n');
  const api = `/api/handles/${handlePath(record.id)}`;
  const intro =
    '<section id="values" class="card"><h2>Values</h2><div class="scroll">' +
    `<table><thead><tr><th scope="col">Index</th><th scope="col">Type</th><th scope="col">Timestamp</th><th scope="col">Data</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table></div>\n` +
    `<p>Version ${record.version}, updated ${isoSeconds(record.updated)}.</p></section>\n`;
  return recordPage({ kind: 'handle', id: record.id, api, history: `/api/history/hdl:${handlePath(record.id)}`, subject: record.id, intro });
}

function redirectPage(url: string): string {
  return htmlPage({ title: 'Handle Redirect', body: `<p><a href="${escapeHtml(url)}">${escapeHtml(url)}</a></p>` });
}

// ------------------------------------------------------------------------------------------------
// Route

const last = (q: Query, name: string): string | undefined => {
  const v = q[name];
  return Array.isArray(v) ? v.at(-1) : v;
};
const every = (q: Query, name: string): string[] => {
  const v = q[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};

/** The handle a proxy path names, if it is one served here; anything else is no route. */
function proxiedHandle(req: FastifyRequest, handles: HandleService): Handle {
  const path = (req.params as { '*': string })['*'];
  try {
    return handles.parseServed(path);
  } catch (e) {
    if (!(e instanceof CairnError)) throw e;
    throw new RouteNotFound(`No route for ${req.method} ${req.url.split('?')[0]}`);
  }
}

export function proxyRoutes(app: FastifyInstance, handles: HandleService): void {
  app.get(
    '/*',
    {
      schema: {
        summary: 'Proxy resolution: redirect to the URL or 10320/loc location of a handle; ?noredirect shows the record',
        tags: ['handles'],
        params: { type: 'object', properties: { '*': { type: 'string', description: 'The handle, prefix/suffix' } } },
        querystring: {
          type: 'object',
          properties: {
            noredirect: { type: 'string', description: 'present: show the record instead of redirecting' },
            urlappend: { type: 'string', description: 'appended to the chosen URL' },
            locatt: { type: 'array', items: { type: 'string' }, description: 'repeatable, name:value: prefer 10320/loc entries with that attribute' },
          },
        },
      },
      validatorCompiler: () => () => true,
    },
    async (req, reply) => {
      const handle = proxiedHandle(req, handles);
      const q = req.query as Query;
      const wantsHtml = prefersHtml(req.headers.accept);
      const fail = (error: CairnError): FastifyReply => {
        reply.header('vary', 'Accept');
        if (wantsHtml) return sendHtml(reply, error.status, errorPage(error));
        throw error;
      };
      const urlappend = last(q, 'urlappend');
      if (urlappend !== undefined && /[\u0000-\u001f\u007f]/.test(urlappend)) return fail(new QueryInvalid('urlappend must not contain control characters'));
      const record = handles.findRecord(handle);
      if (!record) return fail(new HandleNotFound(`Handle ${handle.text} not found`, { handle: handle.text }));
      if (record.status === 'tombstoned') {
        return fail(new HandleDeleted(`Handle ${record.id} was deleted`, { handle: record.id, tombstone: tombstoneJson(record.tombstone) }));
      }
      if (q.noredirect === undefined) {
        const target = chooseTarget(record.id, publicValues(record.values), { locatt: every(q, 'locatt') });
        if (target) {
          const url = locationHeader(target.url + (urlappend ?? ''));
          reply.code(target.status).header('location', url);
          return sendHtml(reply, target.status, redirectPage(url));
        }
      }
      reply.header('vary', 'Accept');
      if (wantsHtml) return sendHtml(reply, 200, handleRecordPage(record));
      // The bytes /api/handles/{handle} serves: the stored view.
      const view = handles.findView(record.id);
      const body = view ? view.subarray(2) : Buffer.from(JSON.stringify(handleResponse(record.id, publicValues(record.values))));
      return reply.code(200).header('content-type', JSON_TYPE).send(body);
    },
  );
}
