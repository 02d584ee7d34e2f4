import type { FastifyReply } from 'fastify';
import { assetUrl } from './assets.js';

/**
 * The HTML the pages start from. The server writes only the frame, what a page is about and, for
 * a handle, its values (so a browser without JavaScript still reads the record); the scripts in
 * web/assets fetch the JSON APIs and render the rest. Scripts and styles are files from this
 * origin only: no inline code, no other host (the CSP below enforces both).
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "media-src 'self' blob: mediastream:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const HTML_TYPE = 'text/html; charset=utf-8';

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** `data-*` attributes from a map; values escaped, undefined ones left out. */
export function dataAttributes(data: Readonly<Record<string, string | undefined>>): string {
  return Object.entries(data)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => ` data-${k}="${escapeHtml(v)}"`)
    .join('');
}

export interface PageOptions {
  readonly title: string;
  /** Already-escaped HTML inside <main>. */
  readonly body: string;
  /** The script that drives the page (a file in web/assets), if any. */
  readonly script?: string;
}

export function htmlPage({ title, body, script }: PageOptions): string {
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(title)}</title><link rel="stylesheet" href="${assetUrl('style.css')}">` +
    (script ? `<script type="module" src="${assetUrl(script)}"></script>` : '') +
    '</head>\n<body>\n<a class="skip" href="#main">Skip to content</a>\n' +
    '<header class="site"><a href="/" class="brand">Cairn</a> <span class="tagline">identifier registry</span></header>\n' +
    `<main id="main" tabindex="-1">\n${body}\n</main>\n` +
    '<footer class="site"><a href="/">Check an item</a> · <a href="/.well-known/jwks.json">Service keys</a> · <a href="/docs">API</a></footer>\n' +
    '</body></html>\n'
  );
}

/** Sends a page with the headers every page carries. */
export function sendHtml(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', HTML_TYPE)
    .header('content-security-policy', PAGE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .send(html);
}
