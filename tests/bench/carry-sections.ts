/**
 * A full `npm run bench` rewrites BENCHMARKS.md, but some sections come from elsewhere (`npm run
 * fuzz`, the transparency-log follower's cost script). They are carried over from the previous
 * report: every `## ` section of `previous` whose title the new report lacks is put back before
 * `## Reproduce` (or at the end), in its previous order.
 */
export function carrySections(previous: string | undefined, next: string): string {
  if (previous === undefined) return next;
  const titles = new Set(sections(next).map((s) => s.title));
  const foreign = sections(previous).filter((s) => !titles.has(s.title));
  if (foreign.length === 0) return next;
  const block = foreign.map((s) => s.text.replace(/\n*$/, '\n')).join('\n');
  const reproduce = next.indexOf('\n## Reproduce');
  if (reproduce < 0) return `${next.replace(/\n*$/, '\n')}\n${block}`;
  return `${next.slice(0, reproduce + 1)}${block}\n${next.slice(reproduce + 1)}`;
}

interface Section {
  readonly title: string;
  readonly text: string;
}

function sections(text: string): Section[] {
  const found: Section[] = [];
  const starts = [...text.matchAll(/^## .*$/gm)].map((m) => m.index);
  starts.forEach((start, i) => {
    const end = starts[i + 1] ?? text.length;
    const body = text.slice(start, end);
    found.push({ title: body.slice(0, body.indexOf('\n') >= 0 ? body.indexOf('\n') : body.length).trim(), text: body });
  });
  return found;
}
