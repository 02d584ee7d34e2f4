import { BodyForbiddenKey, BodyInvalid, BodyMalformedJson } from '../errors.js';

/**
 * Strict JSON request bodies: malformed JSON, `__proto__` keys and `constructor.prototype` keys each
 * get their own code (fastify's default parser folds them all into one).
 */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw new BodyInvalid('Body is empty');
  try {
    return JSON.parse(text, function reviver(key, value: unknown) {
      if (key === '__proto__') throw new BodyForbiddenKey('JSON body has a "__proto__" key');
      if (key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value) {
        throw new BodyForbiddenKey('JSON body has a "constructor.prototype" key');
      }
      return value;
    });
  } catch (e) {
    if (e instanceof BodyForbiddenKey) throw e;
    throw new BodyMalformedJson(`Body is not valid JSON: ${(e as Error).message}`);
  }
}
