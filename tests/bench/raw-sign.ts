/**
 * Raw signing rate: node:crypto `sign()` in a tight loop on one thread, over real JWS signing
 * inputs (`BASE64URL(header).BASE64URL(payload)`) taken from records Cairn signed, with the same
 * private key and the same call Cairn makes (src/signing/jws.ts). Run as a child process (pinned to
 * one core by run.ts):
 *
 *   node dist/tests/bench/raw-sign.js ALG PRIVATE_KEY_PEM INPUTS_JSON SECONDS
 *
 * INPUTS_JSON is a JSON array of signing-input strings. Prints one JSON line with the rate.
 */
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [alg, keyFile, inputsFile, secondsText = '3'] = process.argv.slice(2);
if ((alg !== 'EdDSA' && alg !== 'ES256') || !keyFile || !inputsFile) {
  process.stderr.write('usage: raw-sign EdDSA|ES256 PRIVATE_KEY_PEM INPUTS_JSON [SECONDS]\n');
  process.exit(64);
}

const key = createPrivateKey(readFileSync(keyFile));
const inputs = (JSON.parse(readFileSync(inputsFile, 'utf8')) as string[]).map((s) => Buffer.from(s));
if (inputs.length === 0) throw new Error('no signing inputs');
const digest = alg === 'EdDSA' ? null : 'sha256';
const keyArg = { key, dsaEncoding: 'ieee-p1363' as const };

/** Signs for `seconds`, checking the clock every 64 signatures; returns signatures and elapsed seconds. */
function loop(seconds: number): { signs: number; seconds: number } {
  const started = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  let signs = 0;
  let elapsed = 0n;
  let i = 0;
  do {
    for (let k = 0; k < 64; k++) {
      sign(digest, inputs[i]!, keyArg);
      i = i + 1 === inputs.length ? 0 : i + 1;
    }
    signs += 64;
    elapsed = process.hrtime.bigint() - started;
  } while (elapsed < limit);
  return { signs, seconds: Number(elapsed) / 1e9 };
}

const seconds = Number(secondsText);
loop(Math.min(0.5, seconds / 4)); // warm-up
const run = loop(seconds);
const meanInputBytes = inputs.reduce((n, b) => n + b.length, 0) / inputs.length;
process.stdout.write(`${JSON.stringify({ alg, signs: run.signs, seconds: run.seconds, rate: run.signs / run.seconds, inputs: inputs.length, meanInputBytes })}\n`);
