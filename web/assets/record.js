/* global document */
// Record pages (handle, OID, road sign): values, the signature checked here against the service
// keys, history, an OID's children and ORS names, a road sign's position on a map drawn locally.
import { checkRecordSignature, el, getJson, problemText, svg, when } from './common.js';

const root = document.getElementById('record');
const { kind, api, history: historyUrl, subject } = root.dataset;
const details = document.getElementById('details');

function valueText(v) {
  const d = v.data ?? {};
  if (d.format === 'string') return d.value;
  if (d.format === 'admin') return `administrator ${d.value.index}:${d.value.handle}, permissions ${d.value.permissions}`;
  if (d.format === 'vlist') return d.value.map((r) => `${r.index}:${r.handle}`).join(', ');
  if (d.format === 'key') return `public key ${d.value.kty ?? ''} ${d.value.crv ?? ''}`.trim();
  return `${d.format}: ${typeof d.value === 'string' ? d.value : JSON.stringify(d.value)}`;
}

function valuesTable(values) {
  return el(
    'div',
    { class: 'scroll' },
    el(
      'table',
      {},
      el('thead', {}, el('tr', {}, ['Index', 'Type', 'Timestamp', 'Data'].map((h) => el('th', { scope: 'col' }, h)))),
      el(
        'tbody',
        {},
        values.map((v) => el('tr', {}, el('td', {}, v.index), el('td', {}, v.type), el('td', {}, when(v.timestamp)), el('td', { class: 'data' }, valueText(v)))),
      ),
    ),
  );
}

function factList(rows) {
  return el('dl', { class: 'facts' }, rows.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

async function showSignature(values) {
  const box = document.getElementById('signature');
  const r = await checkRecordSignature(values, subject);
  box.classList.remove('status-pending');
  const heading = el('h2', {}, 'Signature');
  if (r.state === 'valid') {
    box.classList.add('tone-good');
    box.dataset.signature = 'valid';
    const extra = r.skipped > 0 ? ` ${r.skipped} value(s) of a kind this page cannot re-encode were not compared.` : '';
    box.replaceChildren(
      heading,
      el('p', {}, el('span', { class: 'symbol', 'aria-hidden': 'true' }, '✓'), ' Signature checked in your browser against key ', el('code', {}, r.kid), ` (${r.alg}): valid.`),
      el('p', { class: 'help' }, `All ${r.checked} signed values match what the registry signed on ${when(new Date(r.payload.iat * 1000).toISOString())}.${extra}`),
    );
  } else {
    box.classList.add('tone-bad');
    box.dataset.signature = r.state;
    box.replaceChildren(
      heading,
      el('p', {}, el('span', { class: 'symbol', 'aria-hidden': 'true' }, '✕'), r.state === 'unsigned' ? ' This record is not signed.' : ` Signature check in your browser failed: ${r.why}${r.kid ? ` (key ${r.kid})` : ''}.`),
    );
  }
}

async function showHistory() {
  const box = document.getElementById('history');
  const r = await getJson(historyUrl);
  if (!r.ok) {
    const unsupported = r.body?.code === 'ERR_IDENTIFIER_UNSUPPORTED' || r.status === 400;
    box.replaceChildren(
      el('h2', {}, 'History'),
      el('p', { 'data-history': 'unavailable' }, unsupported ? 'The registry does not keep a browsable history for this kind of record.' : `The history could not be read: ${problemText(r)}`),
    );
    return;
  }
  const versions = [...(r.body.versions ?? [])].reverse();
  box.replaceChildren(
    el('h2', {}, 'History'),
    el('p', {}, `${versions.length} version${versions.length === 1 ? '' : 's'}, newest first.`),
    el(
      'ol',
      { class: 'history', 'data-history': 'list' },
      versions.map((v, i) => {
        const older = versions[i + 1];
        const changed = older ? changes(older.values, v.values) : 'first version';
        return el(
          'li',
          {},
          el('details', {}, el('summary', {}, `Version ${v.version} · ${when(v.updated)} · ${v.status}${changed ? ` · ${changed}` : ''}`), v.tombstone ? el('p', {}, `Deleted: ${v.tombstone.reason ?? ''}`) : '', valuesTable(v.values.filter((x) => x.type !== 'HS_SIGNATURE'))),
        );
      }),
    ),
  );
}

/** Which values differ between two versions, by index and type, ignoring the signature. */
function changes(before, after) {
  const key = (v) => JSON.stringify([v.type, v.data, v.permissions, v.ttl, v.references]);
  const old = new Map(before.filter((v) => v.type !== 'HS_SIGNATURE').map((v) => [v.index, key(v)]));
  const now = new Map(after.filter((v) => v.type !== 'HS_SIGNATURE').map((v) => [v.index, key(v)]));
  const out = [];
  for (const v of after) if (v.type !== 'HS_SIGNATURE' && old.get(v.index) !== now.get(v.index)) out.push(`${old.has(v.index) ? 'changed' : 'added'} ${v.index} ${v.type}`);
  for (const v of before) if (v.type !== 'HS_SIGNATURE' && !now.has(v.index)) out.push(`removed ${v.index} ${v.type}`);
  return out.length === 0 ? 'no value changed' : out.join(', ');
}

// ---------------------------------------------------------------------------------------------
// Kinds

async function oidSections(view) {
  const childUrl = root.dataset.children;
  const children = childUrl ? await getJson(childUrl) : { ok: false };
  const orsName = root.dataset.orsName;
  details.replaceChildren(
    el(
      'section',
      { class: 'card' },
      el('h2', {}, 'About'),
      factList([
        ['Description', view.description],
        ['ASN.1 notation', view.asn1],
        ['OID-IRI', view.iri],
        ['Identifiers', (view.asn1Ids ?? []).join(', ')],
        ['Unicode labels', (view.unicodeLabels ?? []).join(', ')],
        ['Status', view.status],
        ['Version', `${view.version}, updated ${when(view.updated)}`],
      ]),
    ),
    el(
      'section',
      { class: 'card', id: 'ors' },
      el('h2', {}, 'ORS names'),
      orsName ? el('p', {}, 'Published in the DNS as ', el('code', {}, orsName)) : el('p', {}, 'This arc has no DNS name of its own (too long for the DNS).'),
      (view.ors ?? []).length > 0 ? el('ul', {}, view.ors.map((u) => el('li', {}, el('code', {}, u)))) : el('p', {}, 'No ORS URI records are registered for this arc.'),
    ),
    el(
      'section',
      { class: 'card', id: 'children' },
      el('h2', {}, 'Children'),
      !children.ok
        ? el('p', {}, `The children could not be read: ${problemText(children)}`)
        : children.body.children.length === 0
          ? el('p', {}, 'No child arcs are registered.')
          : el('ul', {}, children.body.children.map((c) => el('li', {}, el('a', { href: `/oid/${c}` }, c)))),
      children.ok && children.body.total > children.body.children.length ? el('p', {}, `${children.body.total} in all; the first ${children.body.children.length} are shown.`) : '',
    ),
    el('section', { class: 'card' }, el('h2', {}, 'Values'), valuesTable(view.values.filter((v) => v.type !== 'HS_SIGNATURE'))),
  );
}

const RADIUS = 300; // metres shown around the sign

/** Metres east and north of (lat0, lon0): an equirectangular projection, fine at this scale. */
function project(lat0, lon0, lat, lon) {
  const x = (lon - lon0) * 111320 * Math.cos((lat0 * Math.PI) / 180);
  const y = (lat - lat0) * 110574;
  return [x, y];
}

function signMap(view, nearby) {
  const { lat, lon } = view.position;
  const size = 2 * RADIUS;
  const toView = ([x, y]) => [x + RADIUS, RADIUS - y];
  const facing = Number(view.facing);
  const rad = (facing * Math.PI) / 180;
  const [cx, cy] = toView([0, 0]);
  const tip = [cx + Math.sin(rad) * 70, cy - Math.cos(rad) * 70];
  const others = nearby.filter((s) => s.id !== view.id);
  return svg(
    'svg',
    { viewBox: `0 0 ${size} ${size}`, role: 'img', 'aria-labelledby': 'map-title', class: 'map', 'data-map': 'its' },
    svg('title', { id: 'map-title' }, `Map: the sign at ${lat}, ${lon} facing ${facing}°, with ${others.length} nearby sign(s) within ${RADIUS} m`),
    svg('rect', { x: 0, y: 0, width: size, height: size, class: 'map-bg' }),
    [100, 200, 300].map((r) => svg('circle', { cx, cy, r, class: 'map-ring' })),
    [100, 200, 300].map((r) => svg('text', { x: cx + 4, y: cy - r + 14, class: 'map-label' }, `${r} m`)),
    svg('text', { x: size - 24, y: 28, class: 'map-north' }, 'N'),
    svg('line', { x1: size - 20, y1: 60, x2: size - 20, y2: 34, class: 'map-arrow' }),
    others.map((s) => {
      const [x, y] = toView(project(lat, lon, s.position.lat, s.position.lon));
      const r2 = (Number(s.facing) * Math.PI) / 180;
      return svg(
        'a',
        { href: `/its/${encodeURIComponent(s.id)}`, class: 'map-other', 'data-sign': s.id },
        svg('title', {}, `${s.id}, ${Math.round(s.distance ?? 0)} m away`),
        svg('line', { x1: x, y1: y, x2: x + Math.sin(r2) * 30, y2: y - Math.cos(r2) * 30, class: 'map-facing-other' }),
        svg('circle', { cx: x, cy: y, r: 9 }),
      );
    }),
    svg('line', { x1: cx, y1: cy, x2: tip[0], y2: tip[1], class: 'map-facing', 'data-facing': facing }),
    svg('polygon', { points: arrowHead(tip, rad), class: 'map-facing-head' }),
    svg('circle', { cx, cy, r: 14, class: 'map-sign', 'data-sign': view.id }, svg('title', {}, `${view.id} (this sign)`)),
  );
}

function arrowHead([x, y], rad) {
  const back = (a) => [x - Math.sin(rad + a) * 16, y + Math.cos(rad + a) * 16];
  return [[x, y], back(0.45), back(-0.45)].map((p) => p.map((n) => n.toFixed(1)).join(',')).join(' ');
}

async function itsSections(view) {
  const { lat, lon } = view.position;
  const near = await getJson(`/api/its?near=${lat},${lon}&radius=${RADIUS}`);
  const nearby = near.ok ? near.body.signs ?? [] : [];
  const others = nearby.filter((s) => s.id !== view.id);
  details.replaceChildren(
    el(
      'section',
      { class: 'card' },
      el('h2', {}, 'About'),
      factList([
        ['Kind', view.kind],
        ['Issuer', view.issuer],
        ['Sign type', view.type],
        ['Value', view.value !== null && view.value !== undefined ? `${view.value}${view.unit ? ` ${view.unit}` : ''}` : undefined],
        ['Road', view.road],
        ['Position', `${lat}, ${lon}${view.position.height !== undefined ? `, ${view.position.height} m high` : ''}`],
        ['Facing', `${view.facing}° (clockwise from north)`],
        ['Status', view.status],
        ['Temporary', view.temporary ? 'yes' : 'no'],
        ['Version', `${view.version}, updated ${when(view.updated)}`],
      ]),
    ),
    el(
      'section',
      { class: 'card', id: 'map' },
      el('h2', {}, 'Map'),
      el('p', { class: 'help' }, `Drawn here from the registry's positions: the sign in the middle with an arrow in the direction it faces, other signs within ${RADIUS} m around it. North is up.`),
      signMap(view, nearby),
      near.ok ? '' : el('p', {}, `Nearby signs could not be read: ${problemText(near)}`),
      others.length > 0
        ? el('ul', { class: 'nearby' }, others.map((s) => el('li', {}, el('a', { href: `/its/${encodeURIComponent(s.id)}` }, s.id), ` · ${Math.round(s.distance ?? 0)} m away, facing ${s.facing}°`)))
        : el('p', {}, 'No other signs nearby.'),
    ),
    el('section', { class: 'card' }, el('h2', {}, 'Values'), valuesTable(view.values.filter((v) => v.type !== 'HS_SIGNATURE'))),
  );
}

async function main() {
  const r = await getJson(api);
  if (!r.ok) {
    details.replaceChildren(el('p', { class: 'card tone-bad', role: 'alert' }, `The record could not be read: ${problemText(r)}`));
    return;
  }
  const view = r.body;
  const values = view.values ?? [];
  if (kind === 'oid') await oidSections(view);
  else if (kind === 'its') await itsSections(view);
  await Promise.all([showSignature(values), showHistory()]);
}

main().catch((e) => details.replaceChildren(el('p', { class: 'card tone-bad', role: 'alert' }, `Something went wrong: ${e}`)));
