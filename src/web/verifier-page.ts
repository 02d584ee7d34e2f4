import { dataAttributes, escapeHtml, htmlPage } from './html.js';

/**
 * `/`: the verifier's page. The form works without JavaScript only as far as reloading the page
 * with `?id=`; web/assets/verifier.js runs the check. `prefill` fills the field and starts the
 * check at once (a scanned GS1 Digital Link lands here); `facts` are what the registry says about
 * the prefilled item, shown before the verdict.
 */
export function verifierPage(prefill?: string, facts: readonly (readonly [string, string])[] = []): string {
  const value = prefill ?? '';
  const about = facts.length === 0 ? '' :
    '<section class="card" aria-labelledby="about-heading"><h2 id="about-heading">What the registry says</h2><dl class="facts">' +
    facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('') +
    '</dl><p class="help">This is the registry entry, not yet a verdict: the check below tells you whether the item checks out.</p></section>\n';
  return htmlPage({
    title: 'Check an item · Cairn',
    script: 'verifier.js',
    body:
      '<h1>Check an item</h1>\n' +
      '<p class="lead">Enter the code printed on the item or its box, or scan it. Cairn looks it up in the registry and tells you whether it checks out.</p>\n' +
      `<form id="verify-form" method="get" action="/" class="card"${dataAttributes({ autorun: prefill ? 'true' : undefined })}>\n` +
      '<label for="identifier">Identifier</label>\n' +
      '<p id="identifier-help" class="help">For example <code>20.5000.1/W1-0001</code>, <code>/01/09506000134352/21/SN-1</code>, <code>imei:490154203237518</code>, an OID like <code>2.999</code> or a road sign <code>its:sign:…</code>.</p>\n' +
      `<input id="identifier" name="id" type="text" inputmode="text" autocomplete="off" autocapitalize="none" spellcheck="false" required aria-describedby="identifier-help" value="${escapeHtml(value)}">\n` +
      '<div class="actions"><button type="submit" id="check">Check</button>' +
      '<button type="button" id="scan" class="secondary" hidden>Scan a code</button></div>\n' +
      '</form>\n' +
      about +
      '<section id="camera" class="card" hidden aria-label="Camera"><video id="camera-video" muted playsinline></video>' +
      '<p id="camera-status" role="status">Point the camera at the code.</p><button type="button" id="camera-stop" class="secondary">Stop scanning</button></section>\n' +
      '<section id="result" aria-live="polite"></section>\n' +
      '<noscript><p class="card">This page needs JavaScript to run the check. The registry API is at <a href="/docs">/docs</a>.</p></noscript>',
  });
}
