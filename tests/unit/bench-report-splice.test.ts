import { describe, expect, it } from 'vitest';
import { carrySections, splicePhase } from '../bench/report-splice.js';

const next = ['# Benchmarks', '', '## Summary', 'new rows', '', '## (a) HTTP', 'new a', '', '## Reproduce', 'steps', ''].join('\n');

describe('a full bench run keeps the report sections it does not write', () => {
  it('puts sections missing from the new report back before Reproduce, in their order', () => {
    const previous = ['# Benchmarks', '', '## Summary', 'old rows', '', '## (a) HTTP', 'old a', '', '## Fuzzing', 'fuzz result', '', '## Reproduce', 'old steps', '', '## Transparency log follower', 'cost', ''].join('\n');
    const text = carrySections(previous, next);
    expect(text).toContain('new a');
    expect(text).not.toContain('old a');
    expect(text).not.toContain('old rows');
    expect(text.indexOf('## Fuzzing')).toBeLessThan(text.indexOf('## Transparency log follower'));
    expect(text.indexOf('## Transparency log follower')).toBeLessThan(text.indexOf('## Reproduce'));
    expect(text).toContain('fuzz result');
    expect(text.match(/^## /gm)).toHaveLength(5);
  });

  it('carries the summary rows of runs a full run does not make, and only those', () => {
    const fresh = ['# Benchmarks', '', '## Summary', '', '| path | Cairn |', '|---|---:|', '| HTTP resolve | 2 |', '', '## Reproduce', 'steps', ''].join('\n');
    const previous = ['# Benchmarks', '', '## Summary', '', '| path | Cairn |', '|---|---:|', '| HTTP resolve | 1 |', '| Scale: start-up | 1.2 s |', '', '## (f) Scale', 'scale figures', '', '## Reproduce', 'steps', ''].join('\n');
    const text = carrySections(previous, fresh, ['Scale: ']);
    expect(text.split('\n').slice(4, 8)).toEqual(['| path | Cairn |', '|---|---:|', '| HTTP resolve | 2 |', '| Scale: start-up | 1.2 s |']);
    expect(text).toContain('scale figures');
    expect(text).not.toContain('| HTTP resolve | 1 |');
    expect(carrySections(previous, fresh)).not.toContain('Scale: start-up');
  });

  it('changes nothing without a previous report or foreign sections', () => {
    expect(carrySections(undefined, next)).toBe(next);
    expect(carrySections(next, next)).toBe(next);
  });
});

describe('one bench phase replaces only its own rows and section', () => {
  const report = ['# Benchmarks', '', '## Summary', '', '| path | Cairn |', '|---|---:|', '| HTTP resolve | 1 |', '| ORS queries | 2 |', '| import | 3 |', '', '## (c) ORS', 'old ors', '', '## Reproduce', 'steps', ''].join('\n');

  it('replaces owned rows where they stood and the section in place', () => {
    const text = splicePhase(report, ['ORS queries'], ['| ORS queries | 9 |'], '## (c) ORS', ['## (c) ORS', 'new ors']);
    expect(text.split('\n').slice(6, 9)).toEqual(['| HTTP resolve | 1 |', '| ORS queries | 9 |', '| import | 3 |']);
    expect(text).toContain('new ors');
    expect(text).not.toContain('old ors');
    expect(text.indexOf('## (c) ORS')).toBeLessThan(text.indexOf('## Reproduce'));
  });

  it('appends new rows to the end of the table and a new section before Reproduce', () => {
    const text = splicePhase(report, ['verify'], ['| verify a | 4 |', '| verify b | 5 |'], '## (d) Verify', ['## (d) Verify', 'body']);
    expect(text.split('\n').slice(8, 11)).toEqual(['| import | 3 |', '| verify a | 4 |', '| verify b | 5 |']);
    expect(text.indexOf('## (d) Verify')).toBeGreaterThan(text.indexOf('## (c) ORS'));
    expect(text.indexOf('## (d) Verify')).toBeLessThan(text.indexOf('## Reproduce'));
  });

  it('starts a report with a summary table when there is none', () => {
    const text = splicePhase(undefined, ['x'], ['| x | 1 |'], '## X', ['## X', 'body']);
    expect(text).toMatch(/^# Benchmarks\n\n## Summary\n/);
    expect(text).toContain('| x | 1 |\n');
    expect(text).toContain('## X\nbody');
  });
});
