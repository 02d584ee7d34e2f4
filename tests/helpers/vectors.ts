import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The shared public test vectors live in ../shared/vectors beside the repository (CI copies
 * shared/ next to the clone). Tests load them rather than copying values.
 */
const here = dirname(fileURLToPath(import.meta.url));
const candidates = [join(here, '../../../shared/vectors'), join(here, '../../../../shared/vectors')];

export function vectorPath(name: string): string {
  for (const dir of candidates) {
    try {
      readFileSync(join(dir, name));
      return join(dir, name);
    } catch {
      // try the next location
    }
  }
  throw new Error(`Test vector ${name} not found in ${candidates.join(' or ')}`);
}

export function loadVector<T>(name: string): T {
  return JSON.parse(readFileSync(vectorPath(name), 'utf8')) as T;
}
