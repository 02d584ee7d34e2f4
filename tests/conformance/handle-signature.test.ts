import { describe, expect, it } from 'vitest';
import { encodeValue } from '../../src/records/encoding.js';
import { valueFromJson } from '../../src/records/handle-json.js';
import { valueDigest } from '../../src/signing/record-signature.js';
import { loadVector } from '../helpers/vectors.js';

interface SignatureVector {
  value: Record<string, unknown>;
  encodingWithoutIndexAndTimestampHex: string;
  digest: string;
  jwsPayloadShape: { digests: { alg: string; digests: { index: number; digest: string }[] } };
}

describe('Handle.Net HS_SIGNATURE digest (shared/vectors/handle-signature.json)', () => {
  const vector = loadVector<SignatureVector>('handle-signature.json');
  // The vector describes the value as Handle.Net's JSON does; ttlType is implied by ttl being a number.
  const { ttlType: _ttlType, ...json } = vector.value;
  const value = valueFromJson(json, 1703113630);

  it('encodes the HS_ADMIN value to the published RFC 3651 bytes (index and timestamp aside)', () => {
    expect(encodeValue(value).subarray(8).toString('hex')).toBe(vector.encodingWithoutIndexAndTimestampHex);
  });

  it('reproduces the published SHA-256 digest', () => {
    expect(valueDigest(value)).toBe(vector.digest);
    expect(vector.jwsPayloadShape.digests.digests[0]!.digest).toBe(vector.digest);
  });

  it('does not depend on the timestamp, but does on every other field', () => {
    expect(valueDigest({ ...value, timestamp: 1 })).toBe(vector.digest);
    expect(valueDigest({ ...value, ttl: 86401 })).not.toBe(vector.digest);
    expect(valueDigest({ ...value, permissions: 0b1111 })).not.toBe(vector.digest);
  });
});
