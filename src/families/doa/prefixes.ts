import { BodyInvalid, PermissionDenied, PrefixExists, PrefixInvalid } from '../../errors.js';
import { foldHandleCase, parseHandle, prefixHandle } from '../../ids/handle.js';
import { encodeAdmin } from '../../records/admin.js';
import { ALL_ADMIN_PERMISSIONS, AdminPermission } from '../../records/permissions.js';
import type { HandleValue } from '../../records/value.js';
import type { RecordWrite } from '../../store/store.js';
import { generateSecret, hashSecret } from '../../signing/secrets.js';
import type { Principal } from './authorize.js';
import type { HandleService } from './handle-service.js';
import { formatIdentity } from './identity.js';

/**
 * Derived prefixes (RFC 3650 section 3: `20.5000.7` is derived from `20.5000`): the service admin
 * gives an organisation (a manufacturer, a road authority) a prefix of its own with its own admin
 * identity `300:0.NA/<prefix>.<n>`, which may then create and manage handles under that prefix
 * and under nothing else. The prefix record `0.NA/<prefix>.<n>` holds
 *
 *   1    PREFIX.NAME  the organisation's name
 *   100  HS_ADMIN     300:0.NA/<prefix>.<n>, DERIVED_ADMIN_PERMISSIONS
 *   101  HS_ADMIN     300:0.NA/<prefix> (the service admin), every permission
 *   300  HS_SECKEY    the organisation's secret (stored hashed; returned once, at creation)
 *
 * The service admin keeps authority over the prefix and everything under it in any case (it is
 * the server administrator). Deleting the prefix record needs DELETE_DERIVED_PREFIX on the
 * parent's record, which the organisation does not have.
 */
export const PREFIX_NAME_TYPE = 'PREFIX.NAME';
export const DERIVED_ADMIN_INDEX = 300;
/** `111111110011`: everything on its own prefix but making or deleting prefixes. */
export const DERIVED_ADMIN_PERMISSIONS = ALL_ADMIN_PERMISSIONS & ~(AdminPermission.ADD_DERIVED_PREFIX | AdminPermission.DELETE_DERIVED_PREFIX);
export const MAX_PREFIX_NAME_LENGTH = 200;

/** One label: a number without leading zeros, or a letter then letters, digits and hyphens. */
const LABEL = /^(?:[1-9][0-9]{0,8}|[A-Za-z][A-Za-z0-9-]{0,62})$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** How many numbers past the highest live one are tried (tombstoned prefixes are never reused). */
const MAX_PROBES = 1000;

export interface DerivedPrefixRequest {
  readonly name: string;
  /** The label after `<prefix>.`; the next free number when absent. */
  readonly suffix?: string;
}

export interface DerivedPrefix {
  /** `20.5000.7` */
  readonly prefix: string;
  /** `0.NA/20.5000.7` */
  readonly prefixHandle: string;
  /** `300:0.NA/20.5000.7` */
  readonly identity: string;
  readonly name: string;
}

export interface DerivedPrefixCreated extends DerivedPrefix {
  /** The identity's HS_SECKEY secret: shown once, stored only as a hash. */
  readonly secret: string;
}

/** `{"name": "Acme Devices"}`, optionally with `"suffix": "7"` (a string, or a whole number). */
export function parseDerivedPrefixRequest(body: unknown): DerivedPrefixRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BodyInvalid('Body must be {"name": "...", "suffix"?: "..."}');
  const o = body as Record<string, unknown>;
  const unknown = Object.keys(o).find((k) => k !== 'name' && k !== 'suffix');
  if (unknown !== undefined) throw new BodyInvalid(`Unknown member "${unknown}": only "name" and "suffix" are taken`);
  if (typeof o.name !== 'string') throw new BodyInvalid('"name" must be a string');
  const name = o.name.trim();
  if (name.length === 0 || name.length > MAX_PREFIX_NAME_LENGTH || CONTROL.test(name) || !name.isWellFormed()) {
    throw new BodyInvalid(`"name" must be 1 to ${MAX_PREFIX_NAME_LENGTH} characters of text without control characters`);
  }
  if (o.suffix === undefined) return { name };
  const suffix = typeof o.suffix === 'number' && Number.isSafeInteger(o.suffix) ? String(o.suffix) : o.suffix;
  if (typeof suffix !== 'string' || !LABEL.test(suffix)) {
    throw new PrefixInvalid('"suffix" must be one label: a number from 1 without leading zeros, or a letter followed by letters, digits and hyphens (at most 63)');
  }
  return { name, suffix };
}

export class DerivedPrefixes {
  constructor(private readonly handles: HandleService) {}

  /**
   * Creates `<prefix>.<suffix or next free n>` with its admin identity; the service admin only.
   * `also(prefix)` adds records to the same commit (the product registry's manufacturer record).
   */
  async create(who: Principal, request: DerivedPrefixRequest, also?: (prefix: string) => readonly RecordWrite[]): Promise<DerivedPrefixCreated> {
    if (!who.serverAdmin) throw new PermissionDenied('Only the service admin creates derived prefixes', { permission: 'ADD_DERIVED_PREFIX' });
    const secret = generateSecret();
    const hashed = await hashSecret(secret); // before taking the write lock: scrypt takes a while
    let prefix = '';
    await this.handles.createSystemRecord(who, async () => {
      const label = request.suffix ?? (await this.nextFree());
      prefix = `${this.handles.prefix}.${label}`;
      if (!(await this.isFree(prefix))) throw new PrefixExists(`Prefix ${prefix} exists, existed, or has handles already`, { handle: prefixHandle(prefix) });
      return { handle: prefixHandle(prefix), values: this.values(prefix, request.name, hashed), ...(also ? { also: () => also(prefix) } : {}) };
    });
    const identity = formatIdentity({ index: DERIVED_ADMIN_INDEX, handle: prefixHandle(prefix) });
    return { prefix, prefixHandle: prefixHandle(prefix), identity, name: request.name, secret };
  }

  /** A prefix is free when no record `0.NA/<prefix>` exists or existed and no handle lives under it. */
  private async isFree(prefix: string): Promise<boolean> {
    return this.handles.findRecord(parseHandle(prefixHandle(prefix))) === undefined && (await this.handles.countHandles(prefix)) === 0;
  }

  private async nextFree(): Promise<string> {
    const parent = `${foldHandleCase(this.handles.prefix)}.`;
    let highest = 0;
    for (const p of await this.handles.prefixRecords()) {
      const label = foldHandleCase(p).startsWith(parent) ? p.slice(parent.length) : '';
      if (/^[1-9][0-9]{0,8}$/.test(label)) highest = Math.max(highest, Number(label));
    }
    for (let n = highest + 1; n <= highest + MAX_PROBES; n++) {
      if (await this.isFree(`${this.handles.prefix}.${n}`)) return String(n);
    }
    throw new PrefixExists(`No free derived prefix after ${this.handles.prefix}.${highest}`);
  }

  private values(prefix: string, name: string, hashedSecret: string): HandleValue[] {
    const now = this.handles.nowSeconds();
    const value = (index: number, type: string, data: Uint8Array, permissions = 0b1110): HandleValue => ({
      index, type, data, permissions, ttlType: 'relative', ttl: 86400, timestamp: now, references: [],
    });
    const admin = this.handles.serviceAdmin;
    return [
      value(1, PREFIX_NAME_TYPE, Buffer.from(name, 'utf8')),
      value(100, 'HS_ADMIN', encodeAdmin({ handle: prefixHandle(prefix), index: DERIVED_ADMIN_INDEX, permissions: DERIVED_ADMIN_PERMISSIONS })),
      value(101, 'HS_ADMIN', encodeAdmin({ handle: admin.handle, index: admin.index, permissions: ALL_ADMIN_PERMISSIONS })),
      value(DERIVED_ADMIN_INDEX, 'HS_SECKEY', Buffer.from(hashedSecret), 0b1100),
    ];
  }
}
