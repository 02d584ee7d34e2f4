import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { valueFromJson, valueToJson } from '../../src/records/handle-json.js';
import { decodePublicKeyJwk, encodePublicKeyJwk } from '../../src/records/pubkey.js';

const NOW = 1764000000;

describe('Handle.Net JSON view: output', () => {
  it('renders a string value in Handle.Net key order, omitting default permissions', () => {
    const v = valueFromJson({ index: 1, type: 'URL', data: 'https://example.org/' }, NOW);
    const json = valueToJson(v);
    expect(Object.keys(json)).toEqual(['index', 'type', 'data', 'ttl', 'timestamp']);
    expect(json).toEqual({ index: 1, type: 'URL', data: { format: 'string', value: 'https://example.org/' }, ttl: 86400, timestamp: '2025-11-24T16:00:00Z' });
  });

  it('shows non-default permissions and references, and an absolute ttl as an ISO time', () => {
    const v = valueFromJson(
      { index: 2, type: 'X', data: 'x', permissions: '1010', ttl: '2030-01-01T00:00:00Z', references: [{ handle: '20.5000/r', index: 1 }] },
      NOW,
    );
    expect(v.ttlType).toBe('absolute');
    expect(Object.keys(valueToJson(v))).toEqual(['index', 'type', 'data', 'permissions', 'ttl', 'timestamp', 'references']);
    expect(valueToJson(v)).toMatchObject({ permissions: '1010', ttl: '2030-01-01T00:00:00Z', references: [{ handle: '20.5000/r', index: 1 }] });
  });

  it('renders binary data as base64 and hex input as bytes', () => {
    const v = valueFromJson({ index: 3, type: 'BIN', data: { format: 'hex', value: '00ff10' } }, NOW);
    expect(valueToJson(v).data).toEqual({ format: 'base64', value: 'AP8Q' });
    const b = valueFromJson({ index: 3, type: 'BIN', data: { format: 'base64', value: 'AP8Q' } }, NOW);
    expect(Buffer.from(b.data).toString('hex')).toBe('00ff10');
  });

  it('renders HS_ADMIN, HS_VLIST and HS_PUBKEY structurally', () => {
    const admin = valueFromJson({ index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/20.5000', index: 300, permissions: '*' } } }, NOW);
    expect(valueToJson(admin).data).toEqual({ format: 'admin', value: { handle: '0.NA/20.5000', index: 300, permissions: '111111111111' } });
    const short = valueFromJson({ index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/20.5000', index: 300, permissions: '11' } } }, NOW);
    expect(valueToJson(short).data).toMatchObject({ value: { permissions: '000000000011' } });
    const vlist = valueFromJson({ index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '0.NA/20.5000', index: 300 }] } }, NOW);
    expect(valueToJson(vlist).data).toEqual({ format: 'vlist', value: [{ handle: '0.NA/20.5000', index: 300 }] });
    const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    const key = valueFromJson({ index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: jwk } }, NOW);
    expect(valueToJson(key).data).toEqual({ format: 'key', value: { kty: 'OKP', crv: 'Ed25519', x: jwk.x } });
  });
});

describe('HS_PUBKEY binary', () => {
  it('writes RSA keys in Handle.Net layout (exponent, then modulus) and reads them back', () => {
    const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }) as Record<string, string>;
    const bytes = encodePublicKeyJwk({ kty: 'RSA', n: jwk.n!, e: jwk.e! });
    expect(bytes.subarray(4, 15).toString()).toBe('RSA_PUB_KEY');
    expect(bytes.readUInt32BE(17)).toBe(3); // e = 65537, three bytes
    expect(decodePublicKeyJwk(bytes)).toEqual({ kty: 'RSA', n: jwk.n, e: jwk.e });
  });

  it('round-trips P-256 keys', () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as Record<string, string>;
    expect(decodePublicKeyJwk(encodePublicKeyJwk(jwk))).toEqual({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
  });
});

describe('Handle.Net JSON view: input errors', () => {
  it.each([
    [{ index: 0, type: 'URL', data: 'x' }, 'ERR_VALUE_INVALID'],
    [{ index: -1, type: 'URL', data: 'x' }, 'ERR_VALUE_INVALID'],
    [{ index: 1.5, type: 'URL', data: 'x' }, 'ERR_VALUE_INVALID'],
    [{ index: 2 ** 31, type: 'URL', data: 'x' }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: '', data: 'x' }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'A\nB', data: 'x' }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'URL' }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'URL', data: 42 }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'URL', data: { format: 'rot13', value: 'x' } }, 'ERR_VALUE_FORMAT_UNKNOWN'],
    [{ index: 1, type: 'URL', data: { format: 'site', value: {} } }, 'ERR_VALUE_FORMAT_UNKNOWN'],
    [{ index: 1, type: 'URL', data: { format: 'base64', value: 'not base64!' } }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'URL', data: { format: 'hex', value: 'abc' } }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'URL', data: 'x', ttl: -1 }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'URL', data: 'x', ttl: '2030-01-01' }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'URL', data: 'x', permissions: '11111' }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'URL', data: 'x', permissions: '12' }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'URL', data: 'x', colour: 'blue' }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'URL', data: 'x', references: [{ handle: 'nohandle', index: 1 }] }, 'ERR_HANDLE_INVALID'],
    [{ index: 1, type: 'HS_ADMIN', data: 'not an admin record' }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/x', index: 300, permissions: '2' } } }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' } } }, 'ERR_VALUE_INVALID'],
    [{ index: 1, type: 'HS_PUBKEY', data: { format: 'key', value: { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43), d: 'B'.repeat(43) } } }, 'ERR_VALUE_INVALID'],
    ['a string', 'ERR_VALUE_INVALID'],
  ])('%j -> %s', (input, code) => {
    expect(() => valueFromJson(input, NOW)).toThrow(expect.objectContaining({ code }));
  });
});

describe('renderValueJson', () => {
  it('writes exactly JSON.stringify(valueToJson(v)) for every kind of value', async () => {
    const { renderValueJson } = await import('../../src/records/handle-json.js');
    const { randomBytes } = await import('node:crypto');
    const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    const inputs: unknown[] = [
      { index: 1, type: 'URL', data: 'https://example.org/"quoted"\\/ünï\u2028' },
      { index: 2, type: 'BIN', data: { format: 'hex', value: '00ff10' } },
      { index: 3, type: 'X', data: 'x', permissions: '1010', ttl: '2030-01-01T00:00:00Z', references: [{ handle: '20.5000/r', index: 1 }] },
      { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/20.5000', index: 300, permissions: '011111110011' } } },
      { index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '0.NA/20.5000', index: 300 }] } },
      { index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: jwk } },
      { index: 4, type: 'tÿpe "q"', data: '' },
    ];
    for (let i = 0; i < 50; i++) inputs.push({ index: 10 + i, type: 'RAND', data: { format: 'base64', value: randomBytes(i).toString('base64') } });
    for (const input of inputs) {
      const v = valueFromJson(input, NOW);
      expect(renderValueJson(v)).toBe(JSON.stringify(valueToJson(v)));
    }
    expect(renderValueJson({ ...valueFromJson(inputs[0], NOW), timestamp: 0 })).toBe(JSON.stringify(valueToJson({ ...valueFromJson(inputs[0], NOW), timestamp: 0 })));
  });
});
