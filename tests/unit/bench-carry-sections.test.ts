import { describe, expect, it } from 'vitest';
import { carrySections } from '../bench/carry-sections.js';

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

  it('changes nothing without a previous report or foreign sections', () => {
    expect(carrySections(undefined, next)).toBe(next);
    expect(carrySections(next, next)).toBe(next);
  });
});
