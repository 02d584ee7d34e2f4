import { generateKeyPairSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { formatItsSignId, parseItsSignType } from '../../src/ids/its-sign.js';
import { adminAuth, basic } from '../helpers/service.js';

/**
 * The records the page tests look at, written over HTTP to a running server as a client would:
 * a plain handle, a manufacturer with a no-evidence class (items active, stolen, recalled) and a
 * device-signature class, an OID arc with a child, and two road signs near each other.
 */
export const GTIN = '09506000134352';
export const HANDLE = '20.5000/demo';
export const OID = '2.999';
export const OID_CHILD = '2.999.1';
export const SIGN = formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial: 1001, type: parseItsSignType('nat.DE-274[60]') });
export const NEARBY_SIGN = formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial: 1002 });

export interface Seeded {
  readonly prefix: string;
  /** Handles of the items: `label` (evidence none, active), `stolen`, `recalled`, `device` (device-signature). */
  readonly items: { readonly label: string; readonly stolen: string; readonly recalled: string; readonly device: string };
  readonly gs1: string;
}

/** One JSON request as some client: status and body text. */
export type Send = (method: string, path: string, body: string, headers: Record<string, string>) => Promise<{ status: number; text: string }>;

/** Requests over a real socket to a running server. */
export const overHttp =
  (base: string): Send =>
  async (method, path, body, headers) => {
    const res = await fetch(base + path, { method, headers, body });
    return { status: res.status, text: await res.text() };
  };

/** Requests through `app.inject()`. */
export const overInject =
  (app: FastifyInstance): Send =>
  async (method, path, body, headers) => {
    const res = await app.inject({ method: method as 'PUT', url: path, headers, payload: body });
    return { status: res.statusCode, text: res.body };
  };

export async function seed(target: string | Send): Promise<Seeded> {
  const send = typeof target === 'string' ? overHttp(target) : target;
  const call = async (_base: unknown, method: string, path: string, body: unknown, auth: string | null): Promise<unknown> => {
    const res = await send(method, path, JSON.stringify(body), { ...(auth ? { authorization: auth } : {}), 'content-type': 'application/json' });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
    return res.text ? JSON.parse(res.text) : undefined;
  };
  const base = undefined;
  const admin = adminAuth();
  await call(base, 'PUT', `/api/handles/${HANDLE}`, [
    { index: 1, type: 'URL', data: 'https://example.org/demo' },
    { index: 2, type: 'DESCRIPTION', data: 'A demonstration record' },
  ], admin);
  await call(base, 'PUT', `/api/handles/${HANDLE}`, [
    { index: 1, type: 'URL', data: 'https://example.org/demo' },
    { index: 2, type: 'DESCRIPTION', data: 'A demonstration record, second version' },
  ], admin);

  const m = (await call(base, 'POST', '/api/manufacturers', { name: 'Acme Devices' }, admin)) as { prefix: string; identity: string; secret: string };
  const maker = basic(m.identity, m.secret);
  const p = m.prefix;
  await call(base, 'PUT', `/api/products/${p}/classes/label`, { name: 'Label', model: 'B-1', evidence: 'none', gtin: GTIN }, maker);
  await call(base, 'PUT', `/api/products/${p}/classes/widget`, { name: 'Widget', model: 'W-1', evidence: 'device-signature' }, maker);
  for (const serial of ['LB-1', 'LB-2', 'LB-3']) await call(base, 'PUT', `/api/products/${p}/items/${serial}`, { class: 'label' }, maker);
  await call(base, 'POST', `/api/products/${p}/items/LB-2/status`, { status: 'stolen', reason: 'reported by the owner' }, maker);
  await call(base, 'POST', `/api/products/${p}/items/LB-3/status`, { status: 'recalled', reason: 'faulty batch' }, maker);
  const device = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  await call(base, 'PUT', `/api/products/${p}/items/W-1`, { class: 'widget', devicePublicKey: device }, maker);

  await call(base, 'PUT', `/api/oids/${OID}`, { description: 'Example arc', asn1Ids: ['example'], unicodeLabels: ['Example'] }, admin);
  await call(base, 'PUT', `/api/oids/${OID_CHILD}`, { description: 'A child arc', asn1Ids: ['child'], unicodeLabels: ['Child'] }, admin);

  await call(base, 'PUT', '/api/its/issuers/DE.417', { identity: '300:0.NA/20.5000', name: 'Roads DE' }, admin);
  await call(base, 'PUT', `/api/its/${encodeURIComponent(SIGN)}`, { position: { lat: 52.5163, lon: 13.3777 }, facing: 180, status: 'placed', value: 60, unit: 'km/h', road: 'B 2' }, admin);
  await call(base, 'PUT', `/api/its/${encodeURIComponent(NEARBY_SIGN)}`, { position: { lat: 52.5170, lon: 13.3790 }, facing: 90 }, admin);

  return {
    prefix: p,
    items: { label: `${p}/LB-1`, stolen: `${p}/LB-2`, recalled: `${p}/LB-3`, device: `${p}/W-1` },
    gs1: `/01/${GTIN}/21/LB-1`,
  };
}
