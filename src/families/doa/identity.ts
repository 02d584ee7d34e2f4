import { AuthFailed } from '../../errors.js';
import { foldHandleCase, parseHandle } from '../../ids/handle.js';

/** A Handle System principal: the value at `index` of `handle` (`300:0.NA/20.5000`). */
export interface Identity {
  readonly index: number;
  readonly handle: string;
}

export function parseIdentity(text: string): Identity {
  const m = /^(\d{1,10}):(.+)$/s.exec(text);
  if (!m || Number(m[1]) > 0x7fffffff) throw new AuthFailed('Identity must be written index:handle, e.g. 300:0.NA/20.5000');
  try {
    return { index: Number(m[1]), handle: parseHandle(m[2]!).text };
  } catch {
    throw new AuthFailed('Identity names an invalid handle');
  }
}

export function formatIdentity(id: Identity): string {
  return `${id.index}:${id.handle}`;
}

export function sameIdentity(a: Identity, b: Identity): boolean {
  return a.index === b.index && foldHandleCase(a.handle) === foldHandleCase(b.handle);
}
