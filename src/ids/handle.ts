import { HandleInvalid } from '../errors.js';

/**
 * Handle syntax (RFC 3650 section 3): `<prefix>/<suffix>`. The prefix is the naming authority, itself
 * dotted (`20.5000`, `20.5000.7`, `0.NA`); the suffix is any Unicode text and may contain further `/`.
 * Handles are case-insensitive in ASCII letters (RFC 3650 section 3), so lookups use a key with ASCII
 * folded to upper case while records keep the spelling they were registered with.
 */
export interface Handle {
  /** The handle as written by its registrant, `prefix/suffix`. */
  readonly text: string;
  readonly prefix: string;
  readonly suffix: string;
  /** Case-folded form used for lookup and storage keys. */
  readonly key: string;
}

/** Longest handle accepted, in UTF-8 bytes. Handle.Net sets none; a bound keeps keys and logs sane. */
export const MAX_HANDLE_BYTES = 1024;

// Prefix labels: ASCII letters, digits and the few punctuation marks prefixes use in practice.
const PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// C0 controls, DEL and C1 controls are never part of an identifier.
const CONTROL_PATTERN = /[\u0000-\u001f\u007f-\u009f]/;

export function parseHandle(input: string): Handle {
  if (typeof input !== 'string' || input.length === 0) throw new HandleInvalid('Handle is empty');
  if (!input.isWellFormed()) throw new HandleInvalid('Handle is not well-formed Unicode');
  if (Buffer.byteLength(input, 'utf8') > MAX_HANDLE_BYTES) {
    throw new HandleInvalid(`Handle is longer than ${MAX_HANDLE_BYTES} bytes`);
  }
  if (CONTROL_PATTERN.test(input)) throw new HandleInvalid('Handle contains a control character');
  const slash = input.indexOf('/');
  if (slash < 0) throw new HandleInvalid('Handle has no "/" between prefix and suffix');
  const prefix = input.slice(0, slash);
  const suffix = input.slice(slash + 1);
  if (prefix.length === 0) throw new HandleInvalid('Handle prefix is empty');
  if (suffix.length === 0) throw new HandleInvalid('Handle suffix is empty');
  if (!PREFIX_PATTERN.test(prefix)) throw new HandleInvalid(`Handle prefix "${prefix}" has characters outside [A-Za-z0-9._-]`);
  return { text: input, prefix, suffix, key: foldHandleCase(input) };
}

export function isHandle(input: unknown): input is string {
  try {
    parseHandle(input as string);
    return true;
  } catch {
    return false;
  }
}

/** Upper-cases ASCII letters only, as the Handle System compares handles. */
export function foldHandleCase(text: string): string {
  // On the hot read path: printable ASCII (nearly every handle) folds natively; elsewhere only
  // a-z may change, never other letters (toUpperCase would turn ß into SS).
  if (PRINTABLE_ASCII.test(text)) return text.toUpperCase();
  return text.replace(/[a-z]+/g, (s) => s.toUpperCase());
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** `0.NA/<prefix>`: the handle that describes a prefix (its admins and keys). */
export function prefixHandle(prefix: string): string {
  return `0.NA/${prefix}`;
}

/**
 * A prefix is served here when it is the service prefix or derived from it (`20.5000.7`,
 * `20.5000.7.1`), each derived label of `[A-Za-z0-9_-]` (so `20.5000.` and `20.5000..7` are not ours).
 * Prefix handles `0.NA/<prefix>` for those are served here too.
 */
export function isHomed(handle: Handle, servicePrefix: string): boolean {
  if (foldHandleCase(handle.prefix) === '0.NA') return isDerivedOrSame(handle.suffix, servicePrefix);
  return isDerivedOrSame(handle.prefix, servicePrefix);
}

const DERIVED_LABEL = /^[A-Za-z0-9_-]+$/;

function isDerivedOrSame(prefix: string, servicePrefix: string): boolean {
  const f = foldHandleCase(prefix);
  const s = foldHandleCase(servicePrefix);
  if (f === s) return true;
  return f.startsWith(`${s}.`) && f.slice(s.length + 1).split('.').every((label) => DERIVED_LABEL.test(label));
}

/** The prefix a prefix is derived from (`20.5000.7` gives `20.5000`, `20.5000` gives `20`); undefined for one label. */
export function parentPrefix(prefix: string): string | undefined {
  const dot = prefix.lastIndexOf('.');
  return dot > 0 && dot < prefix.length - 1 ? prefix.slice(0, dot) : undefined;
}
