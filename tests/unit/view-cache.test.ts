import { describe, expect, it } from 'vitest';
import { TwoGenerationCache } from '../../src/store/view-cache.js';

describe('TwoGenerationCache', () => {
  it('stays within two generations, keeps what is read, and forgets what is deleted', () => {
    const cache = new TwoGenerationCache<string, number>(3);
    for (let i = 0; i < 10; i++) {
      cache.set(`k${i}`, i);
      expect(cache.size).toBeLessThanOrEqual(6);
    }
    expect(cache.get('k0')).toBeUndefined(); // two rotations ago
    expect(cache.get('k8')).toBe(8);
    cache.set('a', 1);
    cache.set('b', 2); // k8 was promoted by its read, so it outlives its generation
    cache.set('c', 3);
    expect(cache.get('k8')).toBe(8);
    cache.delete('k8');
    expect(cache.get('k8')).toBeUndefined();
  });
});
