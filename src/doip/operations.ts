import {
  AuthFailed,
  AuthInsecureTransport,
  AuthRequired,
  DoipElementNotFound,
  DoipNotAnObject,
  DoipOperationUnknown,
  DoipRequestInvalid,
  HandleDeleted,
  HandleNotFound,
  QueryInvalid,
} from '../errors.js';
import { requirePermission, type Principal } from '../families/doa/authorize.js';
import { passwordLogin } from '../families/doa/guarded-login.js';
import type { HandleService } from '../families/doa/handle-service.js';
import { tombstoneJson } from '../families/doa/views.js';
import { foldHandleCase, parseHandle, prefixHandle } from '../ids/handle.js';
import type { StoredRecord } from '../records/record.js';
import type { HandleValue } from '../records/value.js';
import type { Service } from '../service/bootstrap.js';
import { canonicalOperation, DOIP_OPS, parseJsonSegment, type DoipOperation, type DoipRequest } from './message.js';
import { objectFromJson, objectFromRecord, objectToJson, objectType, objectValues, type DigitalObject, type DigitalObjectInput, type DoElement } from './objects.js';
import { idMatches, needsObjects, objectMatches, parseQuery, parseSortFields, sortObjects } from './search.js';
import type { DoipSegment } from './segments.js';
import { DoipTypeIndex } from './type-index.js';

/**
 * The DOIP v2.0 operations over Cairn's handles. Transport-neutral: the TLS listener and the HTTP
 * route both call `execute`, then render the outcome their own way.
 *
 * Writes go through HandleService's own write methods (`put`, `remove`) with the authenticated
 * principal, so DOIP is authorised exactly as the Handle REST API is: creating needs ADD_HANDLE on
 * `0.NA/<prefix>`, changing values MODIFY_VALUE/ADD_VALUE/REMOVE_VALUE on the object's HS_ADMIN,
 * deleting DELETE_HANDLE; the service admin may do everything.
 */

export type Outcome =
  /** JSON output (or none). */
  | { readonly kind: 'json'; readonly output?: unknown }
  /** `Op.Retrieve` with `element`: that element's bytes. */
  | { readonly kind: 'element'; readonly element: DoElement }
  /** `Op.Retrieve` with `includeElementData`: the object with every element's bytes. */
  | { readonly kind: 'object-with-data'; readonly object: DigitalObject };

export interface DoipContext {
  /** Credentials may be accepted here (TLS, or HTTP over https or from loopback). */
  readonly credentialsAllowed: boolean;
  /** A principal the transport authenticated already (HTTP Basic). */
  readonly principal?: Principal;
  /** The client's address, for the failed-login budget (src/families/doa/login-limiter.ts). */
  readonly address?: string;
}

/** A result page may hold every match only up to this many (`pageSize` absent or negative). */
export const MAX_UNPAGED_RESULTS = 1000;
/** Searches that must look into objects (text, attribute terms, sorting) look at most this many. */
export const MAX_SEARCH_CANDIDATES = 100_000;

const SERVICE_OPERATIONS: readonly DoipOperation[] = [DOIP_OPS.hello, DOIP_OPS.listOperations, DOIP_OPS.create, DOIP_OPS.search, DOIP_OPS.retrieve];
const OBJECT_OPERATIONS: readonly DoipOperation[] = [DOIP_OPS.retrieve, DOIP_OPS.update, DOIP_OPS.delete, DOIP_OPS.listOperations];

const services = new WeakMap<Service, DoipService>();

/** The one DoipService of a running service (shared by the TLS listener and the HTTP route). */
export function doipFor(service: Service): DoipService {
  let doip = services.get(service);
  if (!doip) {
    doip = new DoipService(service);
    services.set(service, doip);
  }
  return doip;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Attribute flags arrive as JSON booleans, or as strings from HTTP query parameters and some clients. */
function flag(attributes: Readonly<Record<string, unknown>>, name: string): boolean {
  const v = attributes[name];
  if (v === undefined || v === null || v === false) return false;
  if (v === true || v === '' || v === 'true') return true;
  if (v === 'false') return false;
  throw new DoipRequestInvalid(`Attribute "${name}" must be true or false`);
}

function integer(attributes: Readonly<Record<string, unknown>>, name: string): number | undefined {
  const v = attributes[name];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && /^-?\d{1,9}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || Math.abs(n) > 1e9) throw new QueryInvalid(`Attribute "${name}" must be an integer`);
  return n;
}

export class DoipService {
  readonly handles: HandleService;
  readonly index: DoipTypeIndex;
  /** The TLS listener's bound address, once it listens (Hello reports it). */
  listener: { host: string; port: number } | undefined;

  constructor(private readonly service: Service) {
    this.handles = service.handles;
    this.index = new DoipTypeIndex(service.store);
  }

  /** The values of a live handle record (for HS_VLIST admin groups). */
  private readonly liveValues = (text: string): readonly HandleValue[] | undefined => {
    const record = this.service.store.findRecord(foldHandleCase(text));
    return record?.status === 'active' && record.family === 'handle' ? record.values : undefined;
  };

  /** `0.NA/<prefix>`: the service as a digital object (the target of Hello, Create, Search). */
  get serviceId(): string {
    return prefixHandle(this.handles.prefix);
  }

  isService(targetId: string): boolean {
    return targetId === 'service' || foldHandleCase(targetId) === foldHandleCase(this.serviceId);
  }

  /** Runs one request. Throws CairnError for every failure; the transport maps it to a status. */
  async execute(req: DoipRequest, ctx: DoipContext): Promise<Outcome> {
    const op = canonicalOperation(req.operationId);
    // Credentials are checked whatever the operation: a client sending wrong ones should know.
    const who = await this.principal(req, ctx);
    switch (op) {
      case DOIP_OPS.hello:
        this.requireServiceTarget(req, op);
        return { kind: 'json', output: this.hello() };
      case DOIP_OPS.listOperations:
        if (this.isService(req.targetId)) return { kind: 'json', output: SERVICE_OPERATIONS };
        this.getObject(req.targetId);
        return { kind: 'json', output: OBJECT_OPERATIONS };
      case DOIP_OPS.create:
        return this.create(req, this.required(who));
      case DOIP_OPS.retrieve:
        return this.retrieve(req);
      case DOIP_OPS.update:
        return this.update(req, this.required(who));
      case DOIP_OPS.delete:
        return this.delete(req, this.required(who));
      case DOIP_OPS.search:
        this.requireServiceTarget(req, op);
        return { kind: 'json', output: await this.search(req.attributes) };
      default:
        throw new DoipOperationUnknown(`Operation ${req.operationId} is not supported here; see 0.DOIP/Op.ListOperations`, { operationId: req.operationId });
    }
  }

  // ----------------------------------------------------------------------------------------------
  // Authentication

  private async principal(req: DoipRequest, ctx: DoipContext): Promise<Principal | undefined> {
    if (ctx.principal) return ctx.principal;
    const auth = req.authentication;
    if (auth === undefined) return undefined;
    if (!ctx.credentialsAllowed) throw new AuthInsecureTransport('Credentials are accepted over TLS, or over plain HTTP from loopback only');
    if (typeof auth.password !== 'string') {
      throw new AuthFailed('Only password authentication is supported: "authentication": {"password": "..."} with "clientId": "index:handle"');
    }
    const username = typeof auth.username === 'string' ? auth.username : undefined;
    if (username !== undefined && req.clientId !== undefined && username !== req.clientId) throw new AuthFailed('clientId and authentication.username name different identities');
    const identity = req.clientId ?? username;
    if (identity === undefined) throw new AuthFailed('"clientId" must name the identity, index:handle (e.g. 300:0.NA/20.5000)');
    return passwordLogin(this.handles, ctx.address, identity, auth.password);
  }

  private required(who: Principal | undefined): Principal {
    if (!who) throw new AuthRequired('This operation needs "clientId" and "authentication": {"password": ...}');
    return who;
  }

  private requireServiceTarget(req: DoipRequest, op: DoipOperation): void {
    if (!this.isService(req.targetId)) throw new DoipRequestInvalid(`${op} targets the service (${this.serviceId} or "service"), not ${req.targetId}`);
  }

  // ----------------------------------------------------------------------------------------------
  // Operations

  hello(): Record<string, unknown> {
    const { config, signer } = this.service;
    return {
      id: this.serviceId,
      type: '0.TYPE/DOIPServiceInfo',
      attributes: {
        serviceName: 'Cairn',
        serviceDescription: `Signed identifier resolution; digital objects are handle records under ${this.handles.prefix}`,
        ipAddress: this.listener?.host ?? config.host,
        port: this.listener?.port ?? config.doipPort,
        protocol: 'TCP',
        protocolVersion: '2.0',
        publicKey: { ...signer.active.jwk },
      },
    };
  }

  /** The stored object `targetId` names, or the error DOIP answers for it. */
  getObject(targetId: string): { record: StoredRecord; object: DigitalObject & { id: string } } {
    const handle = this.handles.parseServed(targetId);
    const record = this.handles.findRecord(handle);
    if (!record) throw new HandleNotFound(`No digital object ${targetId}`, { handle: targetId });
    if (record.status === 'tombstoned') throw new HandleDeleted(`${record.id} was deleted`, { handle: record.id, tombstone: tombstoneJson(record.tombstone) });
    const object = objectFromRecord(record);
    if (!object) throw new DoipNotAnObject(`${record.id} is a handle without DOIP values, not a digital object`, { handle: record.id });
    return { record, object: { ...object, id: record.id } };
  }

  private async create(req: DoipRequest, who: Principal): Promise<Outcome> {
    this.requireServiceTarget(req, DOIP_OPS.create);
    const input = this.readInput(req);
    if (!input.object.type) throw new DoipRequestInvalid('The digital object needs a "type"');
    const elements = (input.object.elements ?? []).map((e) => withData(e, input.data.get(e.id) ?? e.data));
    for (const id of input.data.keys()) {
      if (!elements.some((e) => e.id === id)) throw new DoipRequestInvalid(`Element data for "${id}", which the object's "elements" do not list`);
    }
    const object: DigitalObject = { type: input.object.type, attributes: input.object.attributes ?? {}, elements };
    if (input.object.id !== undefined) {
      const handle = this.handles.parseServed(input.object.id);
      if (foldHandleCase(handle.prefix) === '0.NA') throw new DoipRequestInvalid('Digital objects are not created under 0.NA (prefix records)');
    }
    const { values } = objectValues(object);
    const created = await this.handles.put(input.object.id ?? `${this.handles.prefix}/`, { values, overwrite: false, mintNewSuffix: input.object.id === undefined }, who);
    await this.index.catchUp();
    return { kind: 'json', output: objectToJson(this.getObject(created.handle).object) };
  }

  private retrieve(req: DoipRequest): Outcome {
    if (this.isService(req.targetId)) return { kind: 'json', output: this.hello() };
    const { object } = this.getObject(req.targetId);
    const wanted = req.attributes.element;
    if (wanted !== undefined && wanted !== null) {
      if (typeof wanted !== 'string') throw new DoipRequestInvalid('Attribute "element" must be an element id (a string)');
      const element = object.elements.find((e) => e.id === wanted);
      if (!element) throw new DoipElementNotFound(`${object.id} has no element "${wanted}"`, { handle: object.id, element: wanted });
      return { kind: 'element', element };
    }
    if (flag(req.attributes, 'includeElementData')) return { kind: 'object-with-data', object };
    return { kind: 'json', output: objectToJson(object) };
  }

  private async update(req: DoipRequest, who: Principal): Promise<Outcome> {
    const { record, object: current } = this.getObject(req.targetId);
    const input = this.readInput(req);
    if (input.object.id !== undefined && foldHandleCase(input.object.id) !== foldHandleCase(record.id)) {
      throw new DoipRequestInvalid(`The input names ${input.object.id}, the target is ${record.id}`);
    }
    const stored = new Map(current.elements.map((e) => [e.id, e]));
    let elements: DoElement[];
    if (input.object.elements) {
      // The list given is the new list: listed elements keep their bytes unless new ones are sent.
      elements = input.object.elements.map((e) => withData(e, input.data.get(e.id) ?? e.data ?? stored.get(e.id)?.data));
      for (const id of input.data.keys()) {
        if (!elements.some((e) => e.id === id)) throw new DoipRequestInvalid(`Element data for "${id}", which the object's "elements" do not list`);
      }
    } else {
      for (const id of input.data.keys()) if (!stored.has(id)) throw new DoipRequestInvalid(`Element data for "${id}", which ${record.id} does not have`);
      elements = current.elements.map((e) => withData(e, input.data.get(e.id) ?? e.data));
    }
    const next: DigitalObject = { type: input.object.type ?? current.type, attributes: input.object.attributes ?? current.attributes, elements };
    const { values, orphans } = objectValues(next, record.values);
    // Both writes are authorised before the first is made, so a refusal leaves nothing half done
    // (HS_VLIST groups expand as HandleService expands them: through live handle records).
    if (orphans.length > 0) requirePermission(who, record.values, 'REMOVE_VALUE', record.id, this.liveValues);
    const indexes = values.map((v) => (v as { index: number }).index);
    await this.handles.put(record.id, { values, overwrite: true, indexes }, who);
    // The new element list no longer names the dropped values; removing them is tidying up.
    if (orphans.length > 0) await this.handles.remove(record.id, orphans, who);
    await this.index.catchUp();
    return { kind: 'json', output: objectToJson(this.getObject(record.id).object) };
  }

  private async delete(req: DoipRequest, who: Principal): Promise<Outcome> {
    const { record } = this.getObject(req.targetId);
    await this.handles.remove(record.id, undefined, who, { reason: 'deleted through DOIP' });
    await this.index.catchUp();
    return { kind: 'json' };
  }

  /** `{size, results}`: ids (`type: "id"`) or objects without element bytes (`type: "full"`, the default). */
  async search(attributes: Readonly<Record<string, unknown>>): Promise<{ size: number; results: unknown[] }> {
    const terms = parseQuery(attributes.query);
    const pageNum = integer(attributes, 'pageNum') ?? 0;
    if (pageNum < 0) throw new QueryInvalid('pageNum must be 0 or more');
    const pageSizeAttr = integer(attributes, 'pageSize');
    const pageSize = pageSizeAttr === undefined || pageSizeAttr < 0 ? undefined : pageSizeAttr;
    const resultType = attributes.type ?? 'full';
    if (resultType !== 'id' && resultType !== 'full') throw new QueryInvalid('Attribute "type" must be "id" or "full"');
    const sort = parseSortFields(attributes.sortFields);
    await this.index.catchUp();

    const types = [...new Set(terms.filter((t) => t.kind === 'type').map((t) => t.value))];
    if (types.length > 1) return { size: 0, results: [] };
    const type = types[0];
    const page = (total: number): { offset: number; limit: number } => {
      if (pageSize === undefined) {
        if (total > MAX_UNPAGED_RESULTS) throw new QueryInvalid(`${total} results: ask for pages (pageSize at most ${MAX_UNPAGED_RESULTS})`, { size: total });
        return { offset: 0, limit: total };
      }
      return { offset: pageNum * pageSize, limit: Math.min(pageSize, MAX_UNPAGED_RESULTS) };
    };

    let size: number;
    let ids: string[];
    let objects: (DigitalObject & { id: string })[] | undefined;
    if (!needsObjects(terms) && sort.length === 0 && !terms.some((t) => t.kind === 'id')) {
      // Type (or everything) only: counted and paged on the index, nothing loaded.
      size = await this.index.count(type);
      const { offset, limit } = page(size);
      ids = limit === 0 ? [] : await this.index.ids(type, offset, limit);
    } else {
      const exact = terms.find((t) => t.kind === 'id' && !t.prefix);
      const candidates = exact ? this.exactCandidate(exact.value) : this.index.all(type);
      const loadAll = needsObjects(terms) || sort.length > 0;
      const matches: (DigitalObject & { id: string })[] = [];
      const matchIds: string[] = [];
      let looked = 0;
      for await (const id of candidates) {
        if (++looked > MAX_SEARCH_CANDIDATES) throw new QueryInvalid(`The query would look at more than ${MAX_SEARCH_CANDIDATES} objects: narrow it with type:`);
        if (!idMatches(id, terms)) continue;
        if (loadAll || exact) {
          const o = this.findObject(id);
          if (!o || !objectMatches(o, terms)) continue;
          matches.push(o);
        }
        matchIds.push(id);
      }
      if (loadAll || exact) {
        sortObjects(matches, sort);
        objects = matches;
        ids = matches.map((o) => o.id);
      } else {
        ids = matchIds;
      }
      size = ids.length;
      const { offset, limit } = page(size);
      ids = ids.slice(offset, offset + limit);
      objects = objects?.slice(offset, offset + limit);
    }
    if (resultType === 'id') return { size, results: ids };
    const byId = new Map((objects ?? []).map((o) => [o.id, o]));
    const results = ids.map((id) => byId.get(id) ?? this.findObject(id)).filter((o) => o !== undefined);
    return { size, results: results.map((o) => objectToJson(o)) };
  }

  private async *exactCandidate(id: string): AsyncGenerator<string> {
    const o = this.findObject(id);
    if (o) yield o.id;
  }

  private findObject(id: string): (DigitalObject & { id: string }) | undefined {
    let key: string;
    try {
      key = parseHandle(id).key;
    } catch {
      return undefined;
    }
    const record = this.service.store.findRecord(key);
    if (!record || objectType(record) === undefined) return undefined;
    const o = objectFromRecord(record);
    return o ? { ...o, id: record.id } : undefined;
  }

  // ----------------------------------------------------------------------------------------------
  // Input

  /**
   * The input object, from `input` in the initial segment or else the first input segment, and
   * element bytes from the segments after it: for each element a JSON segment `{"id": ...}` then a
   * bytes segment (the specification's serialization of a digital object with element data).
   */
  private readInput(req: DoipRequest): { object: DigitalObjectInput; data: Map<string, Buffer> } {
    let rest: readonly DoipSegment[] = req.inputSegments;
    let json: unknown = req.input;
    if (json === undefined) {
      json = parseJsonSegment(rest[0], 'The input (a digital object) as segment 2');
      rest = rest.slice(1);
    }
    const object = objectFromJson(json);
    const data = new Map<string, Buffer>();
    for (let i = 0; i < rest.length; i += 2) {
      const header = parseJsonSegment(rest[i], `Element header segment ${i + 1} of the element data`);
      if (!isObject(header) || typeof header.id !== 'string') throw new DoipRequestInvalid('An element data header must be {"id": "<element id>"}');
      const bytes = rest[i + 1];
      if (!bytes || bytes.kind !== 'bytes') throw new DoipRequestInvalid(`Element "${header.id}": its header must be followed by a bytes segment`);
      if (data.has(header.id)) throw new DoipRequestInvalid(`Element "${header.id}": data sent twice`);
      data.set(header.id, bytes.data);
    }
    return { object, data };
  }
}

/** The element with its bytes, checked against the length the client declared. */
function withData(e: DoElement, data: Buffer | undefined): DoElement {
  const bytes = data ?? Buffer.alloc(0);
  if (e.declaredLength !== undefined && e.declaredLength !== bytes.length) {
    throw new DoipRequestInvalid(`Element "${e.id}" declares ${e.declaredLength} bytes, ${bytes.length} arrived`);
  }
  return { id: e.id, ...(e.type !== undefined ? { type: e.type } : {}), ...(e.attributes !== undefined ? { attributes: e.attributes } : {}), data: bytes };
}
