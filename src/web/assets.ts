import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The pages' static files (scripts, style sheet) live as plain files in the repository's
 * `web/assets/` folder: tsc compiles TypeScript only, so they are read at run time, found by
 * walking up from this module (src/web/ under vitest and tsx, dist/src/web/ after a build), and
 * kept in memory. Only the files found at start are served: a request names one of them or
 * nothing, so no request path ever reaches the file system.
 */
export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The `web/assets` folder of the checkout this module belongs to. */
export function assetDir(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'web', 'assets');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`No web/assets folder above ${from}`);
  }
}

let loaded: ReadonlyMap<string, Asset> | undefined;

/** Every asset by file name, read once. */
export function assets(): ReadonlyMap<string, Asset> {
  if (loaded) return loaded;
  const dir = assetDir();
  const map = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type === undefined) continue;
    const body = readFileSync(join(dir, name));
    map.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  loaded = map;
  return map;
}

/** The URL a page uses for an asset: its ETag as a version, so a changed file is fetched again. */
export function assetUrl(name: string): string {
  const asset = assets().get(name);
  if (!asset) throw new Error(`Unknown asset ${name}`);
  return `/assets/${name}?v=${asset.etag.slice(1, 11)}`;
}
