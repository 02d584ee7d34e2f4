import { domainToASCII } from 'node:url';

/**
 * Comparing and mapping the names of OID arcs (ASN.1 identifiers and X.660 7.5 Unicode labels).
 *
 * X.660 does not say, in any text found (see registries/oid/README.md, section D), whether
 * Unicode labels compare case-sensitively or after normalisation. Cairn compares them the way
 * the ORS side has to anyway, where every label becomes a DNS label and DNS compares ASCII
 * case-insensitively: ASCII labels case-folded, others as their IDNA A-label (UTS #46 mapping,
 * which folds case and normalises, as RFC 5891 5.3 has it). So `Example`, `example` and
 * `EXAMPLE` are one label, and so are `Ångström` and `ÅNGSTRÖM`; `Straße` and `STRASSE` are not
 * (IDNA 2008 keeps ß). A non-ASCII label IDNA refuses is compared NFC-normalised and lower-cased.
 */
const ASCII = /^[\u0000-\u007f]*$/;
const LDH = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The key two labels are compared by: equal keys are the same label. */
export function labelKey(label: string): string {
  if (ASCII.test(label)) return label.toLowerCase();
  const aLabel = domainToASCII(label);
  return aLabel !== '' ? aLabel : label.normalize('NFC').toLowerCase();
}

/**
 * The DNS label (RFC 1035 LDH: letters, digits, hyphens, not first or last, at most 63 octets)
 * naming an arc with this ASN.1 identifier or Unicode label, in lower case; for a non-ASCII label
 * its IDNA A-label. Undefined when there is none: characters DNS host names do not take (`.`,
 * `_`, `~`), too long, a hyphen first or last, or `--` in positions 3 and 4 of the label or
 * of its DNS form other than an A-label's `xn--` (RFC 5890 and 5891 reserve those).
 */
export function dnsLabelOf(label: string): string | undefined {
  const ascii = ASCII.test(label);
  const chars = [...label];
  // IDNA 2008's hyphen rules on the U-label (RFC 5891 4.2.3.1); node's UTS #46 does not check them.
  if (chars[0] === '-' || chars.at(-1) === '-' || (chars[2] === '-' && chars[3] === '-')) return undefined;
  const dns = ascii ? label.toLowerCase() : domainToASCII(label);
  if (!LDH.test(dns)) return undefined;
  if (dns.slice(2, 4) === '--' && (ascii || !dns.startsWith('xn--'))) return undefined;
  return dns;
}
