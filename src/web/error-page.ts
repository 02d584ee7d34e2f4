import { ERRORS, type CairnError } from '../errors.js';
import { escapeHtml, htmlPage } from './html.js';

const handlePath = (handle: string): string => handle.split('/').map(encodeURIComponent).join('/');

/** A Cairn error as a page: status, title, message, code; a tombstone's reason and successor. */
export function errorPage(error: CairnError): string {
  const { status, title } = ERRORS[error.code];
  const tombstone = error.details?.tombstone as Record<string, string> | undefined;
  let extra = '';
  if (tombstone) {
    extra += `<p>Reason: ${escapeHtml(tombstone.reason ?? '')}. Deleted at ${escapeHtml(tombstone.deletedAt ?? '')}.</p>`;
    if (tombstone.successor) extra += `<p>Successor: <a href="/${escapeHtml(handlePath(tombstone.successor))}">${escapeHtml(tombstone.successor)}</a></p>`;
  }
  return htmlPage({
    title: `${status} ${title}`,
    body: `<h1>${status} ${escapeHtml(title)}</h1>\n<p>${escapeHtml(error.message)}</p>\n${extra}<p>Code <code>${error.code}</code></p>`,
  });
}
