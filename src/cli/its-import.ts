import { resolve } from 'node:path';
import type { Config } from '../config.js';
import { CairnError, ItsCodeUnknown, ItsIdInvalid, ItsIssuerNotFound, ItsSignInvalid } from '../errors.js';
import type { Principal } from '../families/doa/authorize.js';
import { parseIdentity } from '../families/doa/identity.js';
import { checkCatalogue, findCatalogueEntry } from '../families/its/catalogue.js';
import { MAX_LIMIT } from '../families/its/its-query.js';
import { parseSign, type SignView } from '../families/its/its-record.js';
import { parseIssuer, type ItsIssuer } from '../families/its/its-service.js';
import { osmSignType, parseTrafficSign, TrafficSignSyntaxError, type OsmSign, type OsmSignElement } from '../families/its/osm-traffic-sign.js';
import { prefixHandle } from '../ids/handle.js';
import { formatItsSignId, formatItsSignType, parseItsSignId, type ItsKind, type ItsSignType } from '../ids/its-sign.js';
import { ADMIN_INDEX, startService, type Service } from '../service/bootstrap.js';
import { countFeatures, readFeatures } from './geojson-features.js';

/**
 * `cairn its import FILE.geojson [--issuer CC.authority]` (issue 5): loads road signs from a
 * GeoJSON FeatureCollection of Point features whose properties carry an OpenStreetMap-style
 * `traffic_sign` value (grammar: osm-traffic-sign.ts). Runs with the server stopped, on the data
 * directory, as the service admin.
 *
 * Per feature (properties read as own members only):
 * - `traffic_sign`: the signs on the post; each sign becomes a `sign` record, each supplementary
 *   sign after a `,` a `plate` record, with a minted serial and the type `nat.<CC>-<code>[value]`
 *   (the value in the type only when it is a whole number; `3.8` stays on the record's `value`,
 *   with the catalogue's unit).
 * - geometry `Point` `[lon, lat]` (a third coordinate, an altitude, is ignored: the record's
 *   height is the mounting height, which GeoJSON does not carry).
 * - facing: `direction` as OSM writes it (degrees 0-360, or a 16-point cardinal `N`, `NNE`, ...
 *   `NNW`, or `north`/`east`/`south`/`west`), or `facing` in degrees; both given must agree.
 *   `forward`/`backward` (relative to a way this file does not have) are refused.
 * - `@id` or `id` (or the feature's own `id`): the OSM element, `123`, `node/123` (Overpass; also
 *   way and relation) or `n123` (osmium) -> alias `osm:node/123`, which is also the post id
 *   (`mount.post`).
 * - `issuer` `CC.authority`, else the `--issuer` option; it must be granted.
 *
 * Idempotent by alias: every record written carries the post alias and a slot alias naming its
 * place in the tag, `osm-ts:node/123/2` (the second sign on the post) or `osm-ts:node/123/2/1`
 * (the first plate under it). A re-run looks the post alias up, compares, and writes only what
 * differs (`unchanged` otherwise); a changed tag updates the records of its slots, and a slot that
 * is no longer in the tag gets status `removed` (an update). A feature without an OSM id is keyed
 * by its coordinates instead (post `geo:<lat>,<lon>`, slots `osm-ts:geo/<lat>,<lon>/1`), so moving
 * it makes new records. Fields the import does not manage (validity, temporary, lanes, road, a
 * height, other aliases) are kept from the registered record.
 *
 * A feature is imported whole or not at all: every sign and plate of it is checked (grammar,
 * catalogue, value, position, facing) before anything is written. A bad feature is reported on
 * stderr and in the summary's `rejected` (`feature` = its 0-based index in `features`, `line` =
 * the line it starts on, `code` = the Cairn error code, `field`, and for a `traffic_sign` the
 * parser's `reason`) and the import goes on. A file that is not JSON, or not a FeatureCollection,
 * stops it before anything is written (ERR_IMPORT_LINE_INVALID, exit 65).
 *
 * The file is streamed (geojson-features.ts): read twice in chunks, once to check it and count
 * its features, once to import them, holding one feature at a time, so a large file does not
 * need memory of its size. What grows with the file is the set of posts seen (for the check
 * that no post appears twice): one short alias per feature.
 */

export interface ItsImportOptions {
  readonly progress: boolean;
  /** `CC.authority` for features without an `issuer` property. */
  readonly issuer?: string;
}

export interface ItsImportRejection {
  /** 0-based index in the FeatureCollection's `features`. */
  readonly feature: number;
  /** 1-based line of the file where the feature starts. */
  readonly line: number;
  readonly code: string;
  readonly field?: string;
  /** For an unparseable `traffic_sign`: the parser's error code (osm-traffic-sign.ts). */
  readonly reason?: string;
  readonly message: string;
}

export interface ItsImportResult {
  readonly file: string;
  readonly features: number;
  /** Records (signs and plates), not features. */
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly rejected: readonly ItsImportRejection[];
  readonly seconds: number;
}

/**
 * The arguments after `cairn its`: `import FILE [--issuer CC.authority]` (also
 * `--issuer=CC.authority`; options anywhere after `import`, `--` ends them). A misuse comes back
 * as `{usage}`, the message for the CLI's usage error (exit 64).
 */
export function parseItsImportArgs(args: readonly string[]): { file: string; issuer?: string } | { usage: string } {
  const usage = 'usage: cairn its import FILE.geojson [--issuer CC.authority]';
  if (args[0] !== 'import') return { usage };
  const files: string[] = [];
  let issuer: string | undefined;
  let options = true;
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (!options || !a.startsWith('--')) files.push(a);
    else if (a === '--') options = false;
    else if (a === '--issuer' || a.startsWith('--issuer=')) {
      if (issuer !== undefined) return { usage: `${usage} (--issuer given twice)` };
      issuer = a === '--issuer' ? args[++i] : a.slice('--issuer='.length);
      if (issuer === undefined) return { usage };
      try {
        parseIssuer(issuer);
      } catch (e) {
        return { usage: `--issuer: ${(e as Error).message}` };
      }
    } else return { usage: `${usage} (unknown option ${a})` };
  }
  if (files.length !== 1) return { usage };
  return { file: files[0]!, ...(issuer === undefined ? {} : { issuer }) };
}

export const SLOT_NAMESPACE = 'osm-ts';
const SOURCE = 'OpenStreetMap traffic_sign';

type Json = Record<string, unknown>;
const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
/** An own member only: `__proto__` or `constructor` in the file cannot reach a prototype. */
const own = (o: Json, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);

export async function importItsFile(config: Config, file: string, opts: ItsImportOptions): Promise<ItsImportResult> {
  const path = resolve(file);
  // A first pass checks the whole file and counts its features (for the progress bar) before
  // anything is written; the second imports them. Both read it in chunks: memory stays bounded.
  const total = await countFeatures(path);
  const defaultIssuer = opts.issuer === undefined ? undefined : parseIssuer(opts.issuer);
  const started = process.hrtime.bigint();
  const service = await startService(config);
  try {
    if (defaultIssuer && service.its.findIssuer(defaultIssuer)?.status !== 'active') {
      throw new ItsIssuerNotFound(`Issuer ${defaultIssuer.country}.${defaultIssuer.authority} (--issuer) is not granted`, { issuer: opts.issuer });
    }
    const admin: Principal = { identity: parseIdentity(`${ADMIN_INDEX}:${prefixHandle(config.prefix)}`), serverAdmin: true };
    const totals = { created: 0, updated: 0, unchanged: 0 };
    const rejected: ItsImportRejection[] = [];
    const posts = new Map<string, number>();
    const progress = new Progress(opts.progress, total);
    let seen = 0;
    for await (const { index: i, line, value } of readFeatures(path)) {
      try {
        const plan = planFeature(value, defaultIssuer, service);
        const first = posts.get(plan.post);
        if (first !== undefined) throw new ItsSignInvalid(`feature ${i} is the same post (${plan.post}) as feature ${first}`, { field: 'id' });
        posts.set(plan.post, i);
        const outcome = await applyFeature(plan, service, admin);
        totals.created += outcome.created;
        totals.updated += outcome.updated;
        totals.unchanged += outcome.unchanged;
      } catch (e) {
        const r = rejection(e, i, line);
        rejected.push(r);
        progress.message(`cairn its import: feature ${r.feature} (line ${r.line}): ${r.code}: ${r.message}`);
      }
      seen = i + 1;
      progress.tick(seen);
    }
    progress.done();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { file: path, features: seen, ...totals, rejected, seconds };
  } finally {
    await service.close();
  }
}

// ---- the file ---------------------------------------------------------------------------------

// ---- one feature ------------------------------------------------------------------------------

interface Slot {
  readonly kind: ItsKind;
  readonly alias: string;
  readonly type: ItsSignType;
  /** The sign body (validated with parseSign) before merging with a registered record. */
  readonly body: SignBody;
}

interface SignBody {
  position: { lat: number; lon: number; height?: number };
  facing: number;
  status: 'planned' | 'placed' | 'removed';
  value: number | null;
  unit: string | null;
  validity?: unknown;
  temporary?: boolean;
  mount: { post?: string; order?: number } | null;
  lanes?: readonly number[];
  road?: string | null;
  aliases: string[];
  source: string | null;
}

interface Plan {
  readonly issuer: ItsIssuer;
  /** The post alias: `osm:node/123` or `geo:<lat>,<lon>`. */
  readonly post: string;
  /** Prefix of the slot aliases of this post, with the trailing `/`. */
  readonly slotPrefix: string;
  readonly slots: readonly Slot[];
}

const CARDINAL: Readonly<Record<string, number>> = {
  N: 0, NNE: 22.5, NE: 45, ENE: 67.5, E: 90, ESE: 112.5, SE: 135, SSE: 157.5,
  S: 180, SSW: 202.5, SW: 225, WSW: 247.5, W: 270, WNW: 292.5, NW: 315, NNW: 337.5,
  NORTH: 0, EAST: 90, SOUTH: 180, WEST: 270,
};

function parseFacing(x: unknown, field: string): number {
  if (typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 360) return x;
  if (typeof x === 'string') {
    const t = x.trim();
    if (/^[0-9]{1,3}(\.[0-9]+)?$/.test(t) && Number(t) <= 360) return Number(t);
    if (Object.hasOwn(CARDINAL, t.toUpperCase())) return CARDINAL[t.toUpperCase()]!;
    if (/^(forward|backward|both)$/i.test(t)) {
      throw new ItsSignInvalid(`${field} "${t}" is relative to a way, which this file does not carry; give degrees or a cardinal direction`, { field });
    }
  }
  throw new ItsSignInvalid(`${field} ${JSON.stringify(x)?.slice(0, 32)} is not degrees 0-360 or a cardinal direction (N, NE, ..., NNW)`, { field });
}

function facingOf(props: Json): number {
  const direction = own(props, 'direction');
  const facing = own(props, 'facing');
  if (direction === undefined && facing === undefined) throw new ItsSignInvalid('the feature has no direction (or facing): the way the sign faces is required', { field: 'direction' });
  const a = direction === undefined ? undefined : parseFacing(direction, 'direction');
  const b = facing === undefined ? undefined : parseFacing(facing, 'facing');
  if (a !== undefined && b !== undefined && a !== b) throw new ItsSignInvalid(`direction (${a}) and facing (${b}) disagree`, { field: 'facing' });
  return (a ?? b)!;
}

const OSM_TYPE: Readonly<Record<string, string>> = { n: 'node', w: 'way', r: 'relation', node: 'node', way: 'way', relation: 'relation' };

/**
 * The OSM element as an alias, `osm:node/123`: from `123` (a node), `node/123` (Overpass, also
 * `way/` and `relation/`) or `n123` (osmium's `type_id`, also `w` and `r`).
 */
function osmAlias(feature: Json, props: Json): string | undefined {
  const raw = own(props, '@id') ?? own(props, 'id') ?? own(feature, 'id');
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw > 0) return `osm:node/${raw}`;
  if (typeof raw === 'string') {
    const m = /^(?:(node|way|relation)\/|([nwr]))?([1-9][0-9]{0,15})$/.exec(raw.trim());
    if (m) return `osm:${OSM_TYPE[m[1] ?? m[2] ?? 'node']}/${m[3]}`;
  }
  throw new ItsSignInvalid(`id ${JSON.stringify(raw)?.slice(0, 40)} is not an OSM element id (123, node/123 or n123)`, { field: 'id' });
}

function pointOf(feature: Json): { lat: number; lon: number } {
  const geometry = own(feature, 'geometry');
  if (!isObject(geometry) || own(geometry, 'type') !== 'Point') throw new ItsSignInvalid('geometry must be a Point', { field: 'geometry' });
  const c = own(geometry, 'coordinates');
  if (!Array.isArray(c) || c.length < 2 || c.length > 3 || !c.every((n) => typeof n === 'number' && Number.isFinite(n))) {
    throw new ItsSignInvalid('geometry.coordinates must be [lon, lat] (an optional altitude is ignored)', { field: 'geometry.coordinates' });
  }
  const [lon, lat] = c as [number, number];
  if (lat < -90 || lat > 90) throw new ItsSignInvalid(`latitude ${lat} is outside -90..90 (GeoJSON writes [lon, lat])`, { field: 'position.lat' });
  if (lon < -180 || lon > 180) throw new ItsSignInvalid(`longitude ${lon} is outside -180..180`, { field: 'position.lon' });
  return { lat, lon };
}

function issuerOf(props: Json, fallback: ItsIssuer | undefined, service: Service): ItsIssuer {
  const raw = own(props, 'issuer');
  let issuer: ItsIssuer;
  if (raw === undefined || raw === null) {
    if (!fallback) throw new ItsIdInvalid('the feature has no issuer property and no --issuer was given', { field: 'issuer' });
    issuer = fallback;
  } else {
    if (typeof raw !== 'string') throw new ItsIdInvalid('issuer must be text CC.authority, e.g. DE.417', { field: 'issuer' });
    issuer = parseIssuer(raw);
  }
  if (service.its.findIssuer(issuer)?.status !== 'active') {
    throw new ItsIssuerNotFound(`Issuer ${issuer.country}.${issuer.authority} is not granted`, { issuer: `${issuer.country}.${issuer.authority}` });
  }
  return issuer;
}

/** The catalogue check, plus the same check for a value the type cannot carry (`3.8`). */
function valueAndUnit(element: OsmSignElement, type: ItsSignType): { value: number | null; unit: string | null } {
  checkCatalogue(type);
  if (element.value === undefined) return { value: null, unit: null };
  const text = formatItsSignType(type);
  const entry = findCatalogueEntry(type);
  const takes = entry?.takesValue;
  if (takes === undefined) throw new ItsCodeUnknown(`${text} (${entry?.name ?? 'no catalogue row'}) takes no value, got [${element.value}]`, { field: 'value', code: text });
  if ((takes.min !== undefined && element.value < takes.min) || (takes.max !== undefined && element.value > takes.max)) {
    throw new ItsCodeUnknown(`${text} (${entry!.name}): value ${element.value} ${takes.unit} is outside ${takes.min ?? 0}..${takes.max ?? 65535}`, { field: 'value', code: text });
  }
  return { value: element.value, unit: takes.unit };
}

function planFeature(feature: unknown, defaultIssuer: ItsIssuer | undefined, service: Service): Plan {
  if (!isObject(feature) || own(feature, 'type') !== 'Feature') throw new ItsSignInvalid('not a GeoJSON Feature', { field: 'feature' });
  const props = own(feature, 'properties');
  if (!isObject(props)) throw new ItsSignInvalid('the feature has no properties (traffic_sign, direction)', { field: 'properties' });
  const position = pointOf(feature);
  const osm = osmAlias(feature, props);
  const issuer = issuerOf(props, defaultIssuer, service);
  const facing = facingOf(props);
  const tag = own(props, 'traffic_sign');
  if (typeof tag !== 'string') throw new ItsSignInvalid('the feature has no traffic_sign text', { field: 'traffic_sign' });
  let signs: OsmSign[];
  try {
    signs = parseTrafficSign(tag, issuer.country);
  } catch (e) {
    if (e instanceof TrafficSignSyntaxError) throw new ItsSignInvalid(`traffic_sign ${JSON.stringify(tag.slice(0, 64))}: ${e.message}`, { field: 'traffic_sign', reason: e.code });
    throw e;
  }
  const post = osm ?? `geo:${position.lat},${position.lon}`;
  const slotPrefix = `${SLOT_NAMESPACE}:${osm ? osm.slice('osm:'.length) : `geo/${position.lat},${position.lon}`}/`;
  const slots: Slot[] = [];
  let order = 0;
  const add = (kind: ItsKind, element: OsmSignElement, slot: string): void => {
    const type = osmSignType(element);
    const { value, unit } = valueAndUnit(element, type);
    const body: SignBody = {
      position,
      facing,
      status: 'placed',
      value,
      unit,
      mount: { post, order: ++order },
      aliases: [post, `${slotPrefix}${slot}`],
      source: SOURCE,
    };
    parseSign(body); // position, facing, aliases: refused here, before anything of the feature is written
    slots.push({ kind, alias: `${slotPrefix}${slot}`, type, body });
  };
  signs.forEach((sign, n) => {
    add('sign', sign, `${n + 1}`);
    sign.plates.forEach((plate, m) => add('plate', plate, `${n + 1}/${m + 1}`));
  });
  return { issuer, post, slotPrefix, slots };
}

/** The registered fields the import compares, in a fixed order. */
function comparable(type: string | null, b: SignBody | SignView): string {
  return JSON.stringify([type, b.position, b.facing, b.status, b.value, b.unit, b.validity, b.temporary, b.mount, b.lanes, b.road, b.aliases, b.source]);
}

async function applyFeature(plan: Plan, service: Service, admin: Principal): Promise<{ created: number; updated: number; unchanged: number }> {
  const found = JSON.parse((await service.its.query({ area: { mode: 'alias', alias: plan.post }, limit: MAX_LIMIT })).json) as { signs: SignView[] };
  const ours = found.signs.filter((v) => v.aliases.some((a) => a.startsWith(plan.slotPrefix)));
  const used = new Set<string>();
  const out = { created: 0, updated: 0, unchanged: 0 };
  const issuerText = `${plan.issuer.country}.${plan.issuer.authority}`;
  for (const slot of plan.slots) {
    const existing = ours.find((v) => !used.has(v.id) && v.kind === slot.kind && v.issuer === issuerText && v.aliases.includes(slot.alias));
    if (!existing) {
      await service.its.mint(slot.kind, issuerText, formatItsSignType(slot.type), slot.body, admin);
      out.created++;
      continue;
    }
    used.add(existing.id);
    // Kept from the registered record: what the import does not manage.
    const managed = (a: string): boolean => a === plan.post || a.startsWith(plan.slotPrefix);
    const body: SignBody = {
      ...slot.body,
      position: { ...slot.body.position, ...(existing.position.height === undefined ? {} : { height: existing.position.height }) },
      validity: existing.validity,
      temporary: existing.temporary,
      lanes: existing.lanes,
      road: existing.road,
      aliases: [...slot.body.aliases, ...existing.aliases.filter((a) => !managed(a))],
    };
    if (comparable(formatItsSignType(slot.type), body) === comparable(existing.type, existing)) {
      out.unchanged++;
      continue;
    }
    const identity = parseItsSignId(existing.id);
    await service.its.put(formatItsSignId({ ...identity, type: slot.type }), body, admin);
    out.updated++;
  }
  // Slots no longer in the tag: the sign was taken off the post.
  for (const stale of ours) {
    if (used.has(stale.id) || stale.status === 'removed') continue;
    const { position, facing, value, unit, validity, temporary, mount, lanes, road, aliases, source } = stale;
    const identity = parseItsSignId(stale.id);
    await service.its.put(formatItsSignId({ kind: identity.kind, country: identity.country, authority: identity.authority, serial: identity.serial }), {
      position, facing, status: 'removed', value, unit, validity, temporary, mount, lanes, road, aliases, source,
    }, admin);
    out.updated++;
  }
  return out;
}

function rejection(e: unknown, feature: number, line: number): ItsImportRejection {
  if (!(e instanceof CairnError) || e.status >= 500) throw e;
  const field = e.details?.field;
  const reason = e.details?.reason;
  return {
    feature,
    line,
    code: e.code,
    ...(typeof field === 'string' ? { field } : {}),
    ...(typeof reason === 'string' ? { reason } : {}),
    message: e.message,
  };
}

// ---- progress ---------------------------------------------------------------------------------

/** A progress bar on stderr (a terminal only), redrawn at most every 100 ms and at the end. */
class Progress {
  private last = 0;
  private drawn = false;
  private done_ = 0;
  private drawnAt = -1;

  constructor(
    private readonly enabled: boolean,
    private readonly total: number,
  ) {}

  tick(done: number): void {
    this.done_ = done;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    this.draw();
  }

  /** A line above the bar (a rejected feature). */
  message(text: string): void {
    if (this.drawn) process.stderr.write('\r\x1b[K');
    process.stderr.write(`${text}\n`);
    if (this.drawn) this.draw();
  }

  done(): void {
    if (!this.enabled) return;
    if (this.drawnAt !== this.done_) this.draw();
    process.stderr.write('\n');
  }

  private draw(): void {
    const width = 30;
    const ratio = this.total > 0 ? Math.min(1, this.done_ / this.total) : 1;
    const filled = Math.round(ratio * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(ratio * 100).toFixed(1)}%  ${this.done_}/${this.total} features`);
    this.drawn = true;
    this.drawnAt = this.done_;
  }
}
