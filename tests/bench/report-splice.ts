/**
 * BENCHMARKS.md is written piece by piece: a full `npm run bench`, `--only ors|verify|its`, `npm run
 * fuzz` and the log follower's cost script each own some summary rows and one `## ` section. These
 * functions replace what one writer owns and keep everything else as it was.
 */

const SUMMARY_SKELETON = ['# Benchmarks', '', '## Summary', '', '| path | Cairn | anchor | ratio | budget | met |', '|---|---:|---:|---:|---:|:---:|', ''].join('\n');

/**
 * Replaces the section whose heading line matches `heading` (up to the next `## ` heading) with
 * `body`, or adds it before `## Reproduce`, or at the end.
 */
export function spliceSection(text: string | undefined, heading: string | RegExp, body: string): string {
  const section = `${body.trimEnd()}\n\n`;
  if (text === undefined) return `# Benchmarks\n\n${section}`;
  const pattern = typeof heading === 'string' ? new RegExp(`^${escapeRegExp(heading)}\\s*$`, 'm') : heading;
  const found = pattern.exec(text);
  if (found) {
    const rest = text.slice(found.index + found[0].length);
    const next = rest.search(/^## /m);
    return text.slice(0, found.index) + section + (next < 0 ? '' : rest.slice(next));
  }
  const reproduce = text.search(/^## Reproduce\s*$/m);
  if (reproduce >= 0) return text.slice(0, reproduce) + section + text.slice(reproduce);
  return `${text.trimEnd()}\n\n${section}`;
}

/**
 * Replaces the summary rows that begin with one of `labels` by `rows`, where the first of them
 * stood, or appends `rows` to the end of the summary table.
 */
export function spliceSummaryRows(text: string, labels: readonly string[], rows: readonly string[]): string {
  const lines = text.split('\n');
  const owned = (line: string): boolean => labels.some((label) => line.startsWith(`| ${label}`));
  const first = lines.findIndex(owned);
  const kept = lines.filter((line) => !owned(line));
  let at = first;
  if (at < 0) {
    const summary = kept.indexOf('## Summary');
    at = summary + 1;
    while (at < kept.length && !kept[at]!.startsWith('|')) at++;
    while (at < kept.length && kept[at]!.startsWith('|')) at++;
  }
  kept.splice(at, 0, ...rows);
  return kept.join('\n');
}

/** One bench phase's rows and section, into an existing report or a new one. */
export function splicePhase(existing: string | undefined, labels: readonly string[], rows: readonly string[], heading: string | RegExp, section: readonly string[]): string {
  const base = existing !== undefined && existing.includes('## Summary') ? existing : SUMMARY_SKELETON;
  return spliceSection(spliceSummaryRows(base, labels, rows), heading, section.join('\n'));
}

/**
 * A full run rewrites the report; sections it does not write (fuzzing, the log follower's cost,
 * the scale run) are carried over from the previous report, before `## Reproduce`, in their
 * previous order, and so are the summary rows beginning with one of `rowLabels` (rows of runs a
 * full run does not make).
 */
export function carrySections(previous: string | undefined, next: string, rowLabels: readonly string[] = []): string {
  if (previous === undefined) return next;
  const titles = new Set(sections(next).map((s) => s.title));
  const foreign = sections(previous).filter((s) => !titles.has(s.title));
  const carried = foreign.reduce((text, s) => spliceSection(text, s.title, s.text), next);
  const rows = previous.split('\n').filter((line) => rowLabels.some((label) => line.startsWith(`| ${label}`)));
  return rows.length > 0 ? spliceSummaryRows(carried, rowLabels, rows) : carried;
}

function sections(text: string): { title: string; text: string }[] {
  const starts = [...text.matchAll(/^## .*$/gm)].map((m) => ({ index: m.index, title: m[0].trim() }));
  return starts.map((s, i) => ({ title: s.title, text: text.slice(s.index, starts[i + 1]?.index ?? text.length) }));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
