import { dataAttributes, escapeHtml, htmlPage } from './html.js';

/**
 * Record pages: `/{handle}?noredirect`, `/oid/{dotted}` and `/its/{id}`. The server names the
 * record and where its JSON, history and (for OIDs) ORS name are; web/assets/record.js fetches
 * them and renders values, the signature status (checked in the browser), history, OID children
 * and the road sign's map.
 */
export type RecordKind = 'handle' | 'oid' | 'its';

export interface RecordShell {
  readonly kind: RecordKind;
  /** The identifier as shown. */
  readonly id: string;
  /** The JSON view the page reads (values and signature). */
  readonly api: string;
  /** The history API for the record. */
  readonly history: string;
  /** What the signature's `sub` must name. */
  readonly subject: string;
  /** Server-rendered HTML placed before the script's sections (escaped by the caller). */
  readonly intro?: string;
  /** Extra data for the script (e.g. the ORS DNS name). */
  readonly data?: Readonly<Record<string, string | undefined>>;
}

const HEADINGS: Readonly<Record<RecordKind, string>> = { handle: 'Handle', oid: 'Object identifier', its: 'Road sign' };

export function recordPage(shell: RecordShell): string {
  const attrs = dataAttributes({ kind: shell.kind, id: shell.id, api: shell.api, history: shell.history, subject: shell.subject, ...shell.data });
  return htmlPage({
    title: `${HEADINGS[shell.kind]} ${shell.id} · Cairn`,
    script: 'record.js',
    body:
      `<h1>${HEADINGS[shell.kind]} <code>${escapeHtml(shell.id)}</code></h1>\n` +
      `<div id="record"${attrs}>\n` +
      '<section id="signature" class="card status-pending" aria-live="polite"><h2>Signature</h2><p>Checking the signature in your browser…</p></section>\n' +
      (shell.intro ?? '') +
      '<section id="details"></section>\n' +
      '<section id="history"><h2>History</h2><p>Loading…</p></section>\n' +
      `<p class="raw">As JSON: <a href="${escapeHtml(shell.api)}">${escapeHtml(shell.api)}</a></p>\n` +
      '</div>',
  });
}
