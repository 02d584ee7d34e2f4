import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseChallengeRequest, parseVerifyRequest, type VerifyRequest } from '../../src/families/products/verify/request.js';
import { encodeAdmin, encodeValueList } from '../../src/records/admin.js';
import { decodeValue, encodeValue } from '../../src/records/encoding.js';
import { renderValueJson, valueFromJson, valueToJson } from '../../src/records/handle-json.js';
import { encodePublicKeyJwk } from '../../src/records/pubkey.js';
import { parseJsonBody } from '../../src/records/strict-json.js';
import { attempt, fuzzTarget, mutatedBytes, randomText, textInputs } from './fuzz.js';

/**
 * Fuzz targets for JSON request bodies (issue 8): the strict JSON reader, Handle JSON values
 * (valueFromJson / valueToJson / renderValueJson) and verification requests. Each returns a value
 * whose JSON form reads back to the same value, or throws one of its own codes.
 */

const NOW = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// Strict JSON

const jsonText = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.constantFrom('{"a":{"__proto__":{"x":1}}}', '{"constructor":{"prototype":{"x":1}}}', '[{"constructor":{"name":"x"}}]', '{"__proto__":null}', '-0', '1e400', '"\\ud800"'),
);

describe('fuzz: strict JSON bodies', () => {
  fuzzTarget(
    'parseJsonBody: a value that stringifies and reads back the same, or ERR_BODY_INVALID / ERR_BODY_MALFORMED_JSON / ERR_BODY_FORBIDDEN_KEY',
    textInputs(jsonText, 80),
    (text) => {
      const r = attempt(['ERR_BODY_INVALID', 'ERR_BODY_MALFORMED_JSON', 'ERR_BODY_FORBIDDEN_KEY'], () => parseJsonBody(text));
      if (!r.ok) return;
      const again = JSON.stringify(r.value);
      expect(JSON.stringify(parseJsonBody(again))).toBe(again);
    },
    800,
  );
});

// ---------------------------------------------------------------------------------------------
// Handle JSON values

const handleText = fc.oneof(fc.constantFrom('20.5000/admin', '0.NA/20.5000', 'x/y'), fc.stringMatching(/^[A-Za-z0-9.]{1,6}\/[ -~]{1,10}$/), randomText(12));
const index = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 0x7fffffff }) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 0x80000000, 0xffffffff, 1.5, 2 ** 53) });
const reference = fc.record({ handle: handleText, index });
const adminValue = fc.record({ handle: handleText, index, permissions: fc.oneof(fc.constantFrom('*', '011111110011', '111111111111', '1'), fc.stringMatching(/^[01*x]{0,13}$/)) });
const structuredBytes = fc.oneof(
  adminValue.filter((a) => Number.isInteger(a.index) && a.index >= 0 && a.index <= 0xffffffff).map((a) => encodeAdmin({ handle: a.handle, index: a.index, permissions: 0x0ff3 })),
  fc.array(reference.filter((r) => Number.isInteger(r.index) && r.index >= 0 && r.index <= 0xffffffff), { maxLength: 3 }).map(encodeValueList),
  fc.constantFrom(
    encodePublicKeyJwk({ kty: 'OKP', crv: 'Ed25519', x: Buffer.alloc(32, 7).toString('base64url') }),
    encodePublicKeyJwk({ kty: 'EC', crv: 'P-256', x: Buffer.alloc(32, 1).toString('base64url'), y: Buffer.alloc(32, 2).toString('base64url') }),
    encodePublicKeyJwk({ kty: 'RSA', n: Buffer.from([0x80, 1, 2, 3]).toString('base64url'), e: 'AQAB' }),
  ),
);
const dataArb = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.record({ format: fc.constantFrom('string', 'STRING'), value: fc.string({ maxLength: 20 }) }),
  fc.record({ format: fc.constant('base64'), value: fc.oneof(fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b).toString('base64')), mutatedBytes(structuredBytes).map((b) => b.toString('base64')), structuredBytes.map((b) => b.toString('base64url')), randomText(16)) }),
  fc.record({ format: fc.constant('hex'), value: fc.oneof(fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b).toString('hex')), mutatedBytes(structuredBytes).map((b) => b.toString('hex')), randomText(8)) }),
  fc.record({ format: fc.constant('admin'), value: fc.oneof(adminValue, fc.jsonValue({ maxDepth: 2 })) }),
  fc.record({ format: fc.constant('vlist'), value: fc.oneof(fc.array(reference, { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })) }),
  fc.record({
    format: fc.constant('key'),
    value: fc.oneof(
      fc.constantFrom({ kty: 'OKP', crv: 'Ed25519', x: Buffer.alloc(32, 7).toString('base64url') }, { kty: 'RSA', n: 'AAAAgAEC', e: 'AQAB' }, { kty: 'RSA', n: 'gAEC', e: 'AA' }),
      fc.record({ kty: fc.constantFrom('RSA', 'OKP', 'EC'), crv: fc.constantFrom('Ed25519', 'P-256'), x: randomText(44), y: randomText(44), n: randomText(12), e: randomText(4) }, { requiredKeys: ['kty'] }),
      fc.jsonValue({ maxDepth: 2 }),
    ),
  }),
  fc.record({ format: randomText(8), value: fc.jsonValue({ maxDepth: 1 }) }),
);
const valueJson = fc.record(
  {
    index,
    type: fc.oneof(fc.constantFrom('URL', 'EMAIL', 'HS_ADMIN', 'HS_VLIST', 'HS_PUBKEY', 'HS_SITE'), randomText(10)),
    data: dataArb,
    ttl: fc.oneof(fc.integer({ min: 0, max: 0x7fffffff }), fc.constantFrom(-1, 1.5, '2025-01-02T03:04:05Z', '2025-01-02T03:04:05.999+02:00', '2106-02-07T06:28:16Z', '1969-12-31T23:59:59Z', '2025-02-30T00:00:00Z'), randomText(24)),
    permissions: fc.oneof(fc.constantFrom('1110', '1010', '*', '0', '11110'), randomText(5)),
    timestamp: fc.constantFrom('2025-01-02T03:04:05Z', 'x'),
    references: fc.oneof(fc.array(reference, { maxLength: 2 }), fc.jsonValue({ maxDepth: 1 })),
  },
  { requiredKeys: ['index', 'type', 'data'] },
);
const valueInput = fc.oneof(
  { weight: 6, arbitrary: valueJson },
  { weight: 1, arbitrary: fc.tuple(valueJson, fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 })).map(([v, k, x]) => ({ ...v, [k]: x })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

const bytesOf = (d: Uint8Array): string => Buffer.from(d).toString('hex');

describe('fuzz: Handle JSON values', () => {
  fuzzTarget(
    'valueFromJson: a value whose JSON view reads back to the same value, or ERR_VALUE_* / ERR_HANDLE_INVALID',
    valueInput,
    (input) => {
      const r = attempt(['ERR_VALUE_INVALID', 'ERR_VALUE_FORMAT_UNKNOWN', 'ERR_HANDLE_INVALID'], () => valueFromJson(input, NOW));
      if (!r.ok) return;
      const v = r.value;
      const view = valueToJson(v);
      const text = JSON.stringify(view);
      expect(renderValueJson(v)).toBe(text);
      const back = valueFromJson(JSON.parse(text), NOW);
      expect({ ...back, data: bytesOf(back.data) }).toEqual({ ...v, data: bytesOf(v.data) });
      // What is stored is the RFC 3651 encoding: it must read back to the same value too.
      const stored = decodeValue(encodeValue(v));
      expect({ ...stored, data: bytesOf(stored.data) }).toEqual({ ...v, data: bytesOf(v.data) });
    },
    1500,
  );
});

// ---------------------------------------------------------------------------------------------
// Verification requests (src/families/products/verify/request.ts is read-only here: a failure is
// reported, not fixed)

/** The JSON a client would send for a parsed request. */
function requestJson(req: VerifyRequest): Record<string, unknown> {
  const e = req.evidence;
  const evidence =
    e.type === 'none'
      ? { type: 'none' }
      : e.type === 'device-signature'
        ? { type: e.type, signature: e.signature.toString('base64url') }
        : e.type === 'x509-chain'
          ? { type: e.type, chain: e.chain, signature: e.signature.toString('base64url') }
          : { type: e.type, piccData: e.piccData.toString('hex'), cmac: e.cmac.toString('hex'), ...(e.encFileData ? { encFileData: e.encFileData.toString('hex') } : {}) };
  return { id: req.id, ...(req.challengeId === undefined ? {} : { challengeId: req.challengeId }), evidence, context: req.context };
}

const hexOf = (min: number, max: number): fc.Arbitrary<string> => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b).toString('hex'));
const evidenceArb = fc.oneof(
  fc.constant({ type: 'none' }),
  fc.record({ type: fc.constant('device-signature'), signature: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 80 }).map((b) => Buffer.from(b).toString('base64url')), randomText(12)) }),
  fc.record({ type: fc.constant('x509-chain'), chain: fc.array(fc.string({ maxLength: 30 }), { maxLength: 9 }), signature: fc.uint8Array({ minLength: 0, maxLength: 8 }).map((b) => Buffer.from(b).toString('base64url')) }),
  fc.record({ type: fc.constant('sun'), piccData: fc.oneof(hexOf(16, 16), hexOf(0, 17)), cmac: fc.oneof(hexOf(8, 8), randomText(16)), encFileData: fc.oneof(hexOf(16, 16), hexOf(32, 32), hexOf(0, 40), fc.constant('')) }, { requiredKeys: ['type', 'piccData', 'cmac'] }),
  fc.record({ type: fc.oneof(randomText(10), fc.constant('none')), extra: fc.jsonValue({ maxDepth: 1 }) }),
  fc.jsonValue({ maxDepth: 2 }),
);
const contextArb = fc.oneof(
  fc.record({ purpose: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,31}$/), randomText(10)), country: fc.oneof(fc.constantFrom('de', 'FR', 'us'), randomText(3)), geohash: fc.oneof(fc.stringMatching(/^[0-9b-hjkmnp-z]{1,6}$/), randomText(6)) }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 1 }),
);
const verifyBody = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        id: fc.oneof(fc.constantFrom('imei:490154203237518', ' 20.5000/item-1 ', '/01/09506000134352/21/abc'), randomText(30), fc.string({ minLength: 2040, maxLength: 2060 })),
        challengeId: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{22}$/), randomText(22)),
        evidence: evidenceArb,
        context: contextArb,
      },
      { requiredKeys: ['id'] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);
const VERIFY_CODES = ['ERR_VERIFY_REQUEST_INVALID', 'ERR_VERIFY_EVIDENCE_INVALID', 'ERR_VERIFY_CONTEXT_INVALID'];

describe('fuzz: verification requests', () => {
  fuzzTarget(
    'parseVerifyRequest: a request whose JSON reads back to the same request, or ERR_VERIFY_REQUEST/EVIDENCE/CONTEXT_INVALID',
    verifyBody,
    (body) => {
      const r = attempt(VERIFY_CODES, () => parseVerifyRequest(body));
      if (!r.ok) return;
      const json = JSON.parse(JSON.stringify(requestJson(r.value))) as unknown;
      expect(parseVerifyRequest(json)).toEqual(r.value);
      const challenge = attempt(VERIFY_CODES, () => parseChallengeRequest({ id: r.value.id }));
      expect(challenge).toEqual({ ok: true, value: { id: r.value.id } });
    },
    1000,
  );
});

describe('fuzz: regressions', () => {
  const b64 = (bytes: Uint8Array): { format: string; value: string } => ({ format: 'base64', value: Buffer.from(bytes).toString('base64') });
  const codeOf = (input: unknown): string => {
    const r = attempt(['ERR_VALUE_INVALID', 'ERR_VALUE_FORMAT_UNKNOWN', 'ERR_HANDLE_INVALID'], () => valueFromJson(input, NOW));
    return r.ok ? 'accepted' : r.code;
  };

  test('structured data given as bytes must be what its JSON view reads back to', () => {
    // Each was accepted, then shown as a view that valueFromJson refused (or read as other bytes).
    const emptyHandleVlist = encodeValueList([{ handle: '', index: 1 }]);
    expect(codeOf({ index: 1, type: 'HS_VLIST', data: b64(emptyHandleVlist) })).toBe('ERR_VALUE_INVALID');
    const bigIndexAdmin = encodeAdmin({ handle: '20.5000/admin', index: 0x80000000, permissions: 0x0fff });
    expect(codeOf({ index: 100, type: 'HS_ADMIN', data: b64(bigIndexAdmin) })).toBe('ERR_VALUE_INVALID');
    const key = encodePublicKeyJwk({ kty: 'OKP', crv: 'Ed25519', x: Buffer.alloc(32, 7).toString('base64url') });
    const flagged = Buffer.from(key);
    flagged[4 + 'ED25519_PUB_KEY'.length + 1] = 1; // the flags octets follow the key-type string
    expect(codeOf({ index: 300, type: 'HS_PUBKEY', data: b64(flagged) })).toBe('ERR_VALUE_INVALID');
    const shortKey = Buffer.concat([key.subarray(0, key.length - 36), Buffer.from([0, 0, 0, 4, 1, 2, 3, 4])]);
    expect(codeOf({ index: 300, type: 'HS_PUBKEY', data: b64(shortKey) })).toBe('ERR_VALUE_INVALID');
    // A JWK whose lenient Base64url decodes to nothing: its view {n: "", e: ""} was refused on the way back.
    expect(codeOf({ index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'RSA', n: ' ', e: ' ' } } })).toBe('ERR_VALUE_INVALID');
    expect(codeOf({ index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'RSA', n: 'AAAAgAEC', e: 'AQAB' } } })).toBe('accepted');
    // The canonical bytes, in any byte format, are still accepted.
    expect(codeOf({ index: 300, type: 'HS_PUBKEY', data: b64(key) })).toBe('accepted');
    expect(codeOf({ index: 1, type: 'HS_VLIST', data: { format: 'hex', value: encodeValueList([{ handle: '20.5000/x', index: 1 }]).toString('hex') } })).toBe('accepted');
  });

  test('a type that UTF-8 storage would change (lone surrogate, leading U+FEFF) is refused', () => {
    // Accepted before, then stored as U+FFFD (or without the U+FEFF): the record read back named another type.
    expect(codeOf({ index: 1, type: '\udc00', data: 'x' })).toBe('ERR_VALUE_INVALID');
    expect(codeOf({ index: 1, type: 'URL\ud800', data: 'x' })).toBe('ERR_VALUE_INVALID');
    expect(codeOf({ index: 1, type: '\ufeffURL', data: 'x' })).toBe('ERR_VALUE_INVALID');
    expect(codeOf({ index: 1, type: 'URL\ufeff\u00e9\ud83d\ude00', data: 'x' })).toBe('accepted');
  });

  test('-0 (JSON "-0") in a ttl or a reference index reads as 0, as its view and its storage show it', () => {
    const v = valueFromJson(JSON.parse('{"index":1,"type":"URL","data":"x","ttl":-0,"references":[{"handle":"20.5000/x","index":-0}]}'), NOW);
    expect(Object.is(v.ttl, 0)).toBe(true);
    expect(Object.is(v.references[0]!.index, 0)).toBe(true);
  });

  test('text data starting with a byte order mark keeps it (the view used to drop it, changing the bytes)', () => {
    const bytes = Buffer.from('\ufeffhello', 'utf8');
    const v = valueFromJson({ index: 1, type: 'DESC', data: b64(bytes) }, NOW);
    const view = valueToJson(v);
    expect(view.data).toEqual({ format: 'string', value: '\ufeffhello' });
    expect(Buffer.from(valueFromJson(JSON.parse(JSON.stringify(view)), NOW).data).equals(bytes)).toBe(true);
  });
});
