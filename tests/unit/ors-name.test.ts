import { describe, expect, it } from 'vitest';
import { isArcLabel, orsName, orsPublishedAncestor } from '../../src/dns/ors-name.js';
import { nameOctets } from '../../src/dns/wire.js';

const apex = ['oid-res', 'org'];
const arcs = (dotted: string): bigint[] => dotted.split('.').map(BigInt);

describe('ORS names (X.672 clause 7)', () => {
  it('reverses the arcs under the ORS domain', () => {
    expect(orsName(arcs('1.3.6.1.4.1.37476'), apex)?.join('.')).toBe('37476.1.4.1.6.3.1.oid-res.org');
    expect(orsName(arcs('2'), apex)?.join('.')).toBe('2.oid-res.org');
  });

  it('writes huge arcs in decimal and refuses a label over 63 octets', () => {
    const uuidArc = BigInt('0x' + 'f'.repeat(32)); // 39 digits: fits
    expect(orsName([2n, 25n, uuidArc], apex)?.[0]).toBe(uuidArc.toString());
    expect(orsName([2n, 999n, 10n ** 63n], apex)).toBeUndefined(); // 64 digits
  });

  it('publishes the nearest ancestor whose name fits in 255 octets', () => {
    const long = [2n, 999n, ...Array.from({ length: 120 }, () => 1000n)];
    expect(orsName(long, apex)).toBeUndefined();
    const published = orsPublishedAncestor(long, apex)!;
    expect(nameOctets(published.name)).toBeLessThanOrEqual(255);
    expect(orsName([...published.arcs, 1000n], apex)).toBeUndefined(); // one more arc would not fit
    expect(long.slice(0, published.arcs.length)).toEqual(published.arcs);
  });

  it.each([
    ['0', true],
    ['37476', true],
    ['01', false],
    ['-1', false],
    ['example', false],
    ['', false],
  ])('isArcLabel(%j) is %s', (label, expected) => {
    expect(isArcLabel(label)).toBe(expected);
  });
});
