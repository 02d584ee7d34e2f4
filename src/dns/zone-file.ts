import { formatName, typeName, type ResourceRecord } from './wire.js';

/**
 * RFC 1035 master-file text (section 5.1) for the records Cairn publishes: absolute owner names,
 * explicit TTL and class, character strings quoted with `"` and `\` escaped and anything outside
 * printable ASCII written as \DDD.
 */
export function formatRecord(rr: ResourceRecord): string {
  return `${formatName(rr.name)}\t${rr.ttl}\tIN\t${typeName(rr.type)}\t${formatRData(rr)}`;
}

function formatRData(rr: ResourceRecord): string {
  const d = rr.data;
  switch (d.kind) {
    case 'A':
      return d.address;
    case 'NS':
      return formatName(d.host);
    case 'CNAME':
    case 'DNAME':
      return formatName(d.target);
    case 'SOA':
      return `${formatName(d.mname)} ${formatName(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'NAPTR':
      return `${d.order} ${d.preference} ${quote(d.flags)} ${quote(d.service)} ${quote(d.regexp)} ${formatName(d.replacement)}`;
    case 'OTHER':
      // RFC 3597 generic form.
      return `\\# ${d.bytes.length} ${d.bytes.toString('hex')}`;
  }
}

function quote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c < 0x20 || c > 0x7e) out += `\\${String(c).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
