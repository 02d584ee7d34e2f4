import { describe, expect, test } from 'vitest';
import { spliceFuzzing } from './run.js';

describe('npm run fuzz: BENCHMARKS.md splicing', () => {
  const file = '# Benchmarks\n\nintro\n\n## Summary\n\nsum\n\n## Reproduce\n\nrep\n';

  test('adds the section before "## Reproduce", keeping every other line', () => {
    const out = spliceFuzzing(file, '## Fuzzing\n\nfirst');
    expect(out).toBe('# Benchmarks\n\nintro\n\n## Summary\n\nsum\n\n## Fuzzing\n\nfirst\n\n## Reproduce\n\nrep\n');
  });

  test('replaces only its own section on the next run', () => {
    const once = spliceFuzzing(file, '## Fuzzing\n\nfirst');
    const twice = spliceFuzzing(once, '## Fuzzing\n\nsecond\nrun');
    expect(twice).toBe(once.replace('first', 'second\nrun'));
    expect(spliceFuzzing(`${file}\n## Fuzzing\n\nold\n`, '## Fuzzing\n\nnew')).toBe(`${file}\n## Fuzzing\n\nnew\n\n`);
  });
});
