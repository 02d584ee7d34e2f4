/* global document, crypto, atob, btoa, TextEncoder, TextDecoder, Node */
// Shared by Cairn's pages: DOM helpers, JSON fetches, JWS checks with WebCrypto against the
// service's JWKS, and the re-encoding of handle values that record signatures cover.
// Plain ES2022 modules, no bundler, no third-party code: the pages work with no internet.

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = String(v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/** An HTML element with attributes and children (strings become text nodes, never HTML). */
export const el = (tag, attrs = {}, ...children) => build(document.createElement(tag), attrs, children);

/** The same in the SVG namespace. */
export const svg = (tag, attrs = {}, ...children) => build(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, children);

/** GET a JSON API: `{ok, status, body}`; a network failure is status 0. */
export async function getJson(url) {
  try {
    const res = await fetch(url, { headers: { accept: 'application/json' } });
    const body = await res.json().catch(() => null);
    return { ok: res.ok, status: res.status, body };
  } catch (e) {
    return { ok: false, status: 0, body: { detail: String(e) } };
  }
}

export async function postJson(url, data) {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(data) });
    const body = await res.json().catch(() => null);
    return { ok: res.ok, status: res.status, body };
  } catch (e) {
    return { ok: false, status: 0, body: { detail: String(e) } };
  }
}

/** An API problem as one sentence. */
export function problemText(r) {
  if (r.status === 0) return 'The registry could not be reached.';
  const b = r.body ?? {};
  return `${b.detail ?? b.title ?? `HTTP ${r.status}`}${b.code ? ` (${b.code})` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Bytes

const utf8 = new TextEncoder();

export function base64urlToBytes(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  return base64ToBytes(text.replace(/-/g, '+').replace(/_/g, '/'));
}

export function base64ToBytes(text) {
  const clean = text.replace(/=+$/, '');
  if (clean.length % 4 === 1) throw new Error('bad base64 length');
  const bin = atob(clean + '='.repeat((4 - (clean.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function hexToBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A big-endian writer for the RFC 3651 value layout. */
class Writer {
  parts = [];
  u8(n) { this.parts.push(Uint8Array.of(n & 0xff)); return this; }
  u16(n) { this.parts.push(Uint8Array.of((n >>> 8) & 0xff, n & 0xff)); return this; }
  u32(n) { this.parts.push(Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)); return this; }
  bytes(b) { this.u32(b.length); this.parts.push(b); return this; }
  string(s) { return this.bytes(utf8.encode(s)); }
  finish() {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of this.parts) { out.set(p, at); at += p.length; }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// JWS with WebCrypto

let jwksPromise;

/** The service's keys, fetched once per page. */
export function serviceKeys() {
  jwksPromise ??= getJson('/.well-known/jwks.json').then((r) => (r.ok && Array.isArray(r.body?.keys) ? r.body.keys : []));
  return jwksPromise;
}

/** WebCrypto import and verify parameters for each JWS algorithm the JWKS may name. */
const ALGORITHMS = {
  EdDSA: { importAs: () => ({ name: 'Ed25519' }), verifyAs: { name: 'Ed25519' } },
  ES256: { importAs: () => ({ name: 'ECDSA', namedCurve: 'P-256' }), verifyAs: { name: 'ECDSA', hash: 'SHA-256' } },
  ES384: { importAs: () => ({ name: 'ECDSA', namedCurve: 'P-384' }), verifyAs: { name: 'ECDSA', hash: 'SHA-384' } },
  ES512: { importAs: () => ({ name: 'ECDSA', namedCurve: 'P-521' }), verifyAs: { name: 'ECDSA', hash: 'SHA-512' } },
  RS256: { importAs: () => ({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }), verifyAs: { name: 'RSASSA-PKCS1-v1_5' } },
  RS384: { importAs: () => ({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' }), verifyAs: { name: 'RSASSA-PKCS1-v1_5' } },
  RS512: { importAs: () => ({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' }), verifyAs: { name: 'RSASSA-PKCS1-v1_5' } },
  PS256: { importAs: () => ({ name: 'RSA-PSS', hash: 'SHA-256' }), verifyAs: { name: 'RSA-PSS', saltLength: 32 } },
  PS384: { importAs: () => ({ name: 'RSA-PSS', hash: 'SHA-384' }), verifyAs: { name: 'RSA-PSS', saltLength: 48 } },
  PS512: { importAs: () => ({ name: 'RSA-PSS', hash: 'SHA-512' }), verifyAs: { name: 'RSA-PSS', saltLength: 64 } },
};

/** The key's public members only: `alg`, `use`, `kid` would only give importKey more to refuse. */
function publicJwk(jwk) {
  const out = { kty: jwk.kty };
  for (const k of ['crv', 'x', 'y', 'n', 'e']) if (jwk[k] !== undefined) out[k] = jwk[k];
  return out;
}

/**
 * Verifies a compact JWS against the JWKS. Answers `{ok: true, kid, alg, header, payload}` or
 * `{ok: false, why, kid?}`; never throws.
 */
export async function verifyJws(token) {
  if (typeof token !== 'string') return { ok: false, why: 'there is no signature' };
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, why: 'the signature is not a compact JWS' };
  let header;
  let payload;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64urlToBytes(parts[0])));
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64urlToBytes(parts[1])));
  } catch {
    return { ok: false, why: 'the signed data is damaged (it does not decode)' };
  }
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  const alg = ALGORITHMS[header.alg];
  if (!alg) return { ok: false, kid, why: `the algorithm ${String(header.alg)} is not one this page can check` };
  const keys = await serviceKeys();
  const jwk = keys.find((k) => k.kid === kid && (k.alg === undefined || k.alg === header.alg));
  if (!jwk) return { ok: false, kid, why: `the key ${kid ?? '(unnamed)'} is not among the service keys` };
  try {
    const key = await crypto.subtle.importKey('jwk', publicJwk(jwk), alg.importAs(), false, ['verify']);
    const ok = await crypto.subtle.verify(alg.verifyAs, key, base64urlToBytes(parts[2]), utf8.encode(`${parts[0]}.${parts[1]}`));
    return ok ? { ok: true, kid, alg: header.alg, header, payload } : { ok: false, kid, why: 'the signature does not match the signed data' };
  } catch (e) {
    return { ok: false, kid, why: `the signature could not be checked (${e?.name ?? 'error'}: ${e?.message ?? e})` };
  }
}

// ---------------------------------------------------------------------------------------------
// Record signatures (HS_SIGNATURE): the JWS, then each value's digest

const DEFAULT_PERMISSIONS = 0b1110;

/** The RFC 3651 encoding of a value from its JSON, without index and timestamp; undefined when its data cannot be rebuilt here. */
function encodedValue(v) {
  const w = new Writer();
  const absolute = typeof v.ttl === 'string';
  w.u8(absolute ? 1 : 0).u32(absolute ? Math.floor(Date.parse(v.ttl) / 1000) : v.ttl ?? 86400);
  w.u8(v.permissions !== undefined ? parseInt(v.permissions, 2) : DEFAULT_PERMISSIONS);
  w.string(v.type);
  const d = v.data ?? {};
  if (d.format === 'string') w.string(d.value);
  else if (d.format === 'base64') w.bytes(base64ToBytes(d.value));
  else if (d.format === 'hex') w.bytes(hexToBytes(d.value));
  else if (d.format === 'admin') w.bytes(new Writer().u16(parseInt(d.value.permissions, 2)).string(d.value.handle).u32(d.value.index).finish());
  else if (d.format === 'vlist') {
    const list = new Writer().u32(d.value.length);
    for (const r of d.value) list.string(r.handle).u32(r.index);
    w.bytes(list.finish());
  } else return undefined;
  const refs = v.references ?? [];
  w.u32(refs.length);
  for (const r of refs) w.string(r.handle).u32(r.index);
  return w.finish();
}

async function digestOf(v) {
  const bytes = encodedValue(v);
  return bytes ? bytesToBase64(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))) : undefined;
}

/**
 * Checks a record's HS_SIGNATURE as the server does: the JWS against the JWKS, its subject, its
 * validity window, and a digest for exactly each public value. Values whose data this page cannot
 * rebuild (public keys) are counted, not failed.
 * Answers `{state: 'valid' | 'invalid' | 'unsigned', kid, why, checked, skipped, payload}`.
 */
export async function checkRecordSignature(values, subject) {
  const sig = values.find((v) => v.type === 'HS_SIGNATURE');
  if (!sig) return { state: 'unsigned', why: 'the record carries no signature' };
  const jws = await verifyJws(sig.data?.value);
  if (!jws.ok) return { state: 'invalid', kid: jws.kid, why: jws.why };
  const p = jws.payload;
  if (p.sub !== subject) return { state: 'invalid', kid: jws.kid, why: `the signature names ${p.sub}, not ${subject}` };
  const now = Date.now() / 1000;
  if (!(p.nbf <= now && now < p.exp)) return { state: 'invalid', kid: jws.kid, why: 'the signature is outside its validity period' };
  const signed = new Map((p.digests?.digests ?? []).map((d) => [d.index, d.digest]));
  const covered = values.filter((v) => v.type !== 'HS_SIGNATURE');
  if (covered.length !== signed.size) return { state: 'invalid', kid: jws.kid, why: `the signature covers ${signed.size} values, the record has ${covered.length}` };
  let checked = 0;
  let skipped = 0;
  for (const v of covered) {
    if (!signed.has(v.index)) return { state: 'invalid', kid: jws.kid, why: `value ${v.index} is not covered by the signature` };
    const digest = await digestOf(v);
    if (digest === undefined) skipped++;
    else if (digest !== signed.get(v.index)) return { state: 'invalid', kid: jws.kid, why: `value ${v.index} (${v.type}) was changed after signing` };
    else checked++;
  }
  return { state: 'valid', kid: jws.kid, alg: jws.alg, checked, skipped, payload: p };
}

/** Times as the pages show them: UTC, to the minute. */
export function when(iso) {
  if (typeof iso !== 'string') return '';
  return iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}

// ---------------------------------------------------------------------------------------------
// Transparency log proofs (RFC 9162 section 2.1), with WebCrypto's SHA-256

async function sha256(...parts) {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', all));
}

const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The RFC 9162 leaf hash: SHA-256(0x00 || leaf data). */
export const logLeafHash = (data) => sha256(Uint8Array.of(0), data);

/** Whether an audit path leads from a leaf hash to the root (RFC 9162 2.1.3.2, step by step). */
export async function inclusionLeadsToRoot(leafHash, leafIndex, treeSize, path, root) {
  if (!Number.isSafeInteger(leafIndex) || !Number.isSafeInteger(treeSize) || leafIndex < 0 || leafIndex >= treeSize) return false;
  // Plain numbers: halving with Math.floor stays exact up to 2^53, unlike 32-bit shifts.
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(Uint8Array.of(1), p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await sha256(Uint8Array.of(1), r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && sameBytes(r, root);
}

/** The fields of a log leaf's data (src/log/leaf.ts); undefined when it does not decode. */
export function decodeLogLeaf(data) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let o = 0;
  const take = (n) => { if (o + n > data.length) throw new Error('truncated'); const at = o; o += n; return at; };
  const u64 = () => { const at = take(8); return view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4); };
  try {
    if (view.getUint8(take(1)) !== 1) return undefined;
    const seq = u64();
    const at = u64();
    const op = ['create', 'update', 'delete'][view.getUint8(take(1)) - 1];
    const familyLength = view.getUint8(take(1));
    const family = new TextDecoder().decode(data.subarray(take(familyLength), o));
    const idLength = view.getUint16(take(2));
    const id = new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(take(idLength), o));
    const version = view.getUint32(take(4));
    const digestLength = view.getUint8(take(1));
    take(digestLength);
    if (o !== data.length || op === undefined) return undefined;
    return { seq, at, op, family, id, version };
  } catch {
    return undefined;
  }
}

/**
 * Checks a verdict's registration proof against the verdict's signed claims: the leaf data
 * hashes to the token's `logLeaf` and names the item's first version, the audit path leads to the
 * root of the signed tree head of `logTreeSize` leaves, and that tree head's JWS verifies against
 * the service keys. Answers `{ok: true, at, entry, of}` (at: the registration time, seconds) or
 * `{ok: false, why}`; never throws.
 */
export async function checkRegistration(registration, claims) {
  try {
    if (typeof claims.logLeaf !== 'string' || !Number.isSafeInteger(claims.logTreeSize)) return { ok: false, why: 'the signed verdict names no log entry' };
    const data = base64ToBytes(registration.leaf.data);
    const leafHash = await logLeafHash(data);
    if (!sameBytes(leafHash, base64ToBytes(claims.logLeaf))) return { ok: false, why: 'the log entry is not the one the signed verdict names' };
    const leaf = decodeLogLeaf(data);
    if (!leaf) return { ok: false, why: 'the log entry does not decode' };
    if (leaf.id !== claims.sub || leaf.version !== 1 || leaf.op !== 'create') return { ok: false, why: "the log entry is not this item's registration" };
    const sth = await verifyJws(registration.sth?.signature);
    if (!sth.ok) return { ok: false, why: `the log's signed tree head does not verify: ${sth.why}` };
    if (sth.header.typ !== 'tree-head+jwt') return { ok: false, why: 'the signed tree head is not a tree head' };
    const size = sth.payload.treeSize;
    if (size !== claims.logTreeSize || size !== registration.treeSize) return { ok: false, why: 'the proof is for another tree size than the signed verdict names' };
    const path = (registration.auditPath ?? []).map(base64ToBytes);
    const leads = await inclusionLeadsToRoot(leafHash, registration.leafIndex, size, path, base64ToBytes(sth.payload.rootHash));
    if (!leads || leaf.seq !== registration.leafIndex + 1) return { ok: false, why: "the audit path does not lead to the log's signed root" };
    return { ok: true, at: leaf.at, entry: registration.leafIndex + 1, of: size };
  } catch (e) {
    return { ok: false, why: `the proof is damaged (${e?.message ?? e})` };
  }
}
