/* global document, window, navigator, location, history, setTimeout, BarcodeDetector */
// The verifier's page: identifier in, verdict out, in words and colour, with the verdict token's
// signature checked here against the service keys.
import { checkRegistration, el, getJson, postJson, problemText, verifyJws, when } from './common.js';

/** Each verdict for a non-expert: a headline, a sentence, a tone (colour class) and a symbol. */
const VERDICTS = {
  genuine: { tone: 'good', symbol: '✓', title: 'Genuine', text: 'The item proved that it is the one its manufacturer registered.' },
  'registered-unproven': { tone: 'caution', symbol: '!', title: 'Registered, not proven', text: 'This code is registered and in good standing, but the check did not prove that the item in your hands is the original.' },
  unknown: { tone: 'bad', symbol: '?', title: 'Unknown', text: 'No item is registered under this code. Be careful: it may not come from the manufacturer it claims.' },
  revoked: { tone: 'bad', symbol: '✕', title: 'Revoked', text: 'The registration of this item was withdrawn or its key was compromised. Do not trust it.' },
  blocked: { tone: 'bad', symbol: '✕', title: 'Blocked: reported stolen', text: 'This item has been reported stolen.' },
  consumed: { tone: 'caution', symbol: '!', title: 'Already used', text: 'This item was marked as used or consumed. A second scan may mean a copy.' },
  'suspected-clone': { tone: 'bad', symbol: '✕', title: 'Possible copy', text: 'Something about this check suggests the item may be a copy.' },
  'signature-invalid': { tone: 'bad', symbol: '✕', title: 'Failed the check', text: 'The proof the item gave did not check out.' },
  expired: { tone: 'bad', symbol: '✕', title: 'Expired', text: 'The certificate the item presented has expired.' },
  'not-yet-valid': { tone: 'caution', symbol: '!', title: 'Not valid yet', text: 'The certificate the item presented is not valid yet.' },
};

/** Reason codes in plain language; codes not listed are shown as they come. */
const REASONS = {
  'item-not-registered': 'The code is not in the registry.',
  'item-withdrawn': 'The manufacturer withdrew the registration.',
  'item-stolen': 'The item was reported stolen.',
  'item-consumed': 'The item was marked as used.',
  'item-destroyed': 'The item was marked as destroyed.',
  'item-recalled': 'The manufacturer has recalled this item.',
  'device-key-compromised': "The item's secret key is known to be compromised.",
  'device-signature-verified': "The item's chip signed a fresh challenge with its registered key.",
  'x509-chain-verified': "The item's certificate chains to the manufacturer and it signed a fresh challenge.",
  'sun-verified': "The item's NFC tag produced a valid one-time code.",
  'class-requires-no-evidence': 'This kind of product carries no chip or secure tag, so only the registration could be checked.',
  'evidence-missing': 'No proof from the item was sent.',
  'evidence-type-not-accepted': 'The proof sent is not the kind this product uses.',
  'device-key-missing': 'The registry has no key for this item.',
  'device-key-unsupported': "The item's registered key is of a kind that cannot be checked.",
  'device-certificate-missing': 'The registry has no certificate for this item.',
  'signature-malformed': "The item's signature is malformed.",
  'signature-mismatch': "The item's signature does not match.",
  'chain-malformed': "The item's certificates are malformed.",
  'no-trust-anchor': 'The manufacturer has registered no certificate authority.',
  'chain-untrusted': "The item's certificate does not lead to the manufacturer.",
  'chain-not-ca': 'A certificate in the chain is not allowed to issue certificates.',
  'leaf-not-registered': "The item's certificate is not the one registered.",
  'leaf-key-usage': "The item's certificate may not be used for signing.",
  'certificate-revoked': "The item's certificate was revoked.",
  'certificate-expired': "The item's certificate has expired.",
  'certificate-not-yet-valid': "The item's certificate is not valid yet.",
  'sun-keys-missing': 'The registry lacks the keys to check this tag.',
  'sun-picc-invalid': "The tag's data could not be read.",
  'sun-cmac-mismatch': "The tag's one-time code is wrong.",
  'sun-uid-mismatch': 'The tag is not the one registered for this item.',
  'impossible-travel': 'The item was checked in places too far apart for the time between the checks.',
  'scan-after-consumed': 'The item was checked after it was marked as used.',
  'scan-after-destroyed': 'The item was checked after it was marked as destroyed.',
  'counter-not-rising': "The tag's counter went backwards: a recorded code was replayed.",
  'verification-rate-exceeded': 'This item was checked unusually often.',
  'imei-key-conflict': 'This phone number (IMEI) answered with two different keys.',
};

/** What a device-based check needs, by the class's evidence type. */
const DEVICE_NEEDS = {
  'device-signature':
    'This product has a chip with its own secret key. A check needs the item itself: an app or reader that talks to the chip has it sign a fresh challenge from this registry, and the registry compares the signature with the key the manufacturer registered.',
  'x509-chain':
    "This product carries a certificate from its manufacturer. A check needs the item itself: a reader collects the item's certificate chain and has the item sign a fresh challenge; the registry checks the chain back to the manufacturer and the signature.",
  sun: 'This product has a secure NFC tag (NTAG 424 DNA). A check needs a phone that reads the tag: each tap produces a one-time code that the registry checks with the keys only it and the manufacturer hold.',
};

const form = document.getElementById('verify-form');
const input = document.getElementById('identifier');
const result = document.getElementById('result');

function show(...nodes) {
  result.replaceChildren(...nodes);
}

function busy(text) {
  show(el('p', { class: 'card status-pending', role: 'status' }, text));
}

/** What kind of identifier the text is, and its normal form. */
export function classify(raw) {
  const text = raw.trim();
  const link = /^https?:\/\/[^/]+(\/01\/.*)$/i.exec(text);
  if (link) return { kind: 'product', id: link[1] };
  if (/^its:/i.test(text)) return { kind: 'its', id: text };
  const oid = /^(?:urn:oid:|oid:)?([0-2](?:\.(?:0|[1-9]\d*))+)$/i.exec(text);
  if (oid) return { kind: 'oid', id: oid[1] };
  if (/^\/?01\//.test(text)) return { kind: 'product', id: text.startsWith('/') ? text : `/${text}` };
  if (/^imei:/i.test(text)) return { kind: 'product', id: text };
  return { kind: 'product', id: text.replace(/^hdl:/i, '') };
}

const handlePath = (h) => h.split('/').map(encodeURIComponent).join('/');

function recordLink(kind, id) {
  if (kind === 'oid') return `/oid/${id}`;
  if (kind === 'its') return `/its/${encodeURIComponent(id)}`;
  return `/${handlePath(id)}?noredirect`;
}

function notProduct(kind, id) {
  const what = { oid: 'an object identifier (OID)', its: 'a road sign', handle: 'a registered record, not a product' }[kind];
  show(
    el(
      'div',
      { class: 'card verdict tone-info' },
      el('p', { class: 'verdict-title' }, `This is ${what}.`),
      el('p', {}, 'There is nothing to verify here, but you can read its record and check its signature: ', el('a', { href: recordLink(kind, id) }, `open the record for ${id}`), '.'),
    ),
  );
}

function reasonList(reasons) {
  return el(
    'ul',
    { class: 'reasons' },
    (reasons ?? []).map((code) => el('li', {}, REASONS[code] ?? code, REASONS[code] ? el('span', { class: 'code' }, ` (${code})`) : '')),
  );
}

function itemFacts(item, view) {
  const product = [view?.className, view?.model].filter(Boolean).join(' ');
  const rows = [
    ['Product', product || item?.class || view?.class],
    ['Manufacturer', item?.manufacturer ?? view?.manufacturer?.name],
    ['Status in the registry', item?.status ?? view?.status],
    ['Identifier', view?.handle],
  ].filter(([, v]) => v);
  return el('dl', { class: 'facts' }, rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

/** Shows the verdict once its token is checked: a token that does not check is a rejected answer. */
async function showVerdict(answer, nonce, view) {
  const check = await verifyJws(answer.token);
  const claims = check.ok ? check.payload : undefined;
  const mismatch = !check.ok
    ? check.why
    : claims.verdict !== answer.verdict
      ? 'the signed verdict differs from the one shown'
      : claims.nonce !== nonce
        ? 'the answer is not for this check (its challenge differs)'
        : claims.sub !== answer.id
          ? 'the answer is about another item'
          : undefined;
  if (mismatch) {
    show(
      el(
        'div',
        { class: 'card verdict tone-bad', 'data-verdict': 'rejected' },
        el('p', { class: 'verdict-title' }, el('span', { class: 'symbol', 'aria-hidden': 'true' }, '✕'), ' Answer rejected'),
        el('p', {}, 'The answer could not be trusted, so this page shows no verdict. Try again; if it happens again, do not rely on this check.'),
        el('p', { class: 'sigcheck sig-bad', 'data-signature': 'invalid' }, `Signature check in your browser failed: ${mismatch}.`),
      ),
    );
    return;
  }
  const registered = await registrationLine(answer.registration, claims);
  const v = VERDICTS[answer.verdict] ?? { tone: 'caution', symbol: '?', title: answer.verdict, text: 'The registry answered with a verdict this page does not know.' };
  show(
    el(
      'div',
      { class: `card verdict tone-${v.tone}`, 'data-verdict': answer.verdict },
      el('p', { class: 'verdict-title' }, el('span', { class: 'symbol', 'aria-hidden': 'true' }, v.symbol), ` ${v.title}`),
      el('p', {}, v.text),
      el('h2', {}, 'Why'),
      reasonList(answer.reasons),
      itemFacts(answer.item, view),
      el('p', { class: 'sigcheck sig-good', 'data-signature': 'valid' }, 'Signature checked in your browser against key ', el('code', {}, check.kid), ` (${check.alg}).`),
      registered,
    ),
  );
}

/**
 * The registration proof in words, once checked here: the log entry the signed verdict names, its
 * audit path to the signed tree head, and that head's signature. Nothing when the verdict names
 * no entry and carries no proof (an unknown item, or a registry without a log).
 */
async function registrationLine(registration, claims) {
  if (!registration && claims.logLeaf == null) return '';
  const r = registration
    ? await checkRegistration(registration, claims)
    : { ok: false, why: 'the signed verdict names a log entry but the answer carries no proof' };
  if (!r.ok) return el('p', { class: 'sigcheck sig-bad', 'data-log': 'invalid' }, `The registration proof from the public log failed the check in your browser: ${r.why}.`);
  return el(
    'p',
    { class: 'sigcheck sig-good', 'data-log': 'valid' },
    `Registered in the public log on ${when(new Date(r.at * 1000).toISOString())}, entry ${r.entry} of ${r.of}, checked in your browser.`,
  );
}

function showDeviceNeeded(view, evidence) {
  show(
    el(
      'div',
      { class: 'card verdict tone-info', 'data-verdict': 'device-needed' },
      el('p', { class: 'verdict-title' }, 'This product is checked with the item itself'),
      el('p', {}, DEVICE_NEEDS[evidence] ?? `This product needs evidence of the type ${evidence}.`),
      el('p', {}, 'This page cannot do that on its own. What the registry says about the item:'),
      itemFacts(undefined, view),
      view.status !== 'active' ? el('p', { class: 'warning' }, `Note: the item's status is "${view.status}".`) : '',
    ),
  );
}

async function run(raw) {
  const { kind, id } = classify(raw);
  if (!id) return;
  if (kind === 'oid' || kind === 'its') return notProduct(kind, id);
  busy('Looking the item up…');
  const lookup = await getJson(`/api/products/lookup/${id.startsWith('/') ? id : handlePath(id)}`);
  if (!lookup.ok) {
    if (lookup.body?.code !== 'ERR_PRODUCT_ITEM_NOT_FOUND') {
      show(el('div', { class: 'card tone-bad', role: 'alert' }, el('p', {}, `This identifier could not be read: ${problemText(lookup)}`)));
      return;
    }
    // A handle that is not a product may still be a record.
    if (id.includes('/') && !id.startsWith('/')) {
      const record = await getJson(`/api/handles/${handlePath(id)}`);
      if (record.ok) return notProduct('handle', record.body.handle ?? id);
    }
    // No such item (or a withdrawn one): the registry still answers with a signed verdict.
    return verifyWithoutEvidence(id, undefined);
  }
  const view = lookup.body;
  const cls = await getJson(`/api/products/${encodeURIComponent(view.prefix)}/classes/${encodeURIComponent(view.class)}`);
  if (!cls.ok) {
    show(el('div', { class: 'card tone-bad', role: 'alert' }, el('p', {}, `The product class could not be read: ${problemText(cls)}`)));
    return;
  }
  const evidence = cls.body.evidence;
  view.className = cls.body.name;
  view.model = cls.body.model;
  if (evidence !== 'none') return showDeviceNeeded(view, evidence);
  return verifyWithoutEvidence(view.handle, view);
}

/** The challenge and verification with `{"type": "none"}` evidence, then the checked verdict. */
async function verifyWithoutEvidence(id, view) {
  busy('Checking with the registry…');
  const challenge = await postJson('/api/verify/challenges', { id });
  if (!challenge.ok) {
    show(el('div', { class: 'card tone-bad', role: 'alert' }, el('p', {}, `The check could not start: ${problemText(challenge)}`)));
    return;
  }
  // proof: the registration's inclusion proof in the transparency log, checked below.
  const answer = await postJson('/api/verify', { id, challengeId: challenge.body.challengeId, evidence: { type: 'none' }, proof: true });
  if (!answer.ok) {
    show(el('div', { class: 'card tone-bad', role: 'alert' }, el('p', {}, `The check failed: ${problemText(answer)}`)));
    return;
  }
  await showVerdict(answer.body, challenge.body.nonce, view);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = input.value;
  const url = new URL(location.href);
  url.searchParams.set('id', text.trim());
  if (location.pathname === '/') history.replaceState(null, '', url);
  run(text).catch((e) => show(el('div', { class: 'card tone-bad', role: 'alert' }, el('p', {}, `Something went wrong: ${e}`))));
});

// ---------------------------------------------------------------------------------------------
// Scanning: only where the browser has BarcodeDetector and a camera

const scan = document.getElementById('scan');
const camera = document.getElementById('camera');
const video = document.getElementById('camera-video');
const cameraStatus = document.getElementById('camera-status');
let stream;

function stopCamera() {
  for (const track of stream?.getTracks() ?? []) track.stop();
  stream = undefined;
  camera.hidden = true;
  scan.focus();
}

async function startCamera() {
  try {
    const detector = new BarcodeDetector();
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    video.srcObject = stream;
    camera.hidden = false;
    await video.play();
    cameraStatus.textContent = 'Point the camera at the code.';
    while (stream) {
      const codes = await detector.detect(video).catch(() => []);
      if (codes.length > 0) {
        input.value = codes[0].rawValue;
        stopCamera();
        form.requestSubmit();
        return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (e) {
    cameraStatus.textContent = `The camera could not be used: ${e?.message ?? e}`;
  }
}

if ('BarcodeDetector' in window && navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === 'function') {
  scan.hidden = false;
  scan.addEventListener('click', () => void startCamera());
  document.getElementById('camera-stop').addEventListener('click', stopCamera);
}

if (form.dataset.autorun === 'true' || (input.value.trim() !== '' && new URL(location.href).searchParams.has('id'))) {
  form.requestSubmit();
}
