/**
 * PEM (RFC 7468, strict form) to DER: `-----BEGIN <label>-----`, Base64 lines, `-----END <label>-----`.
 * Text around the blocks (OpenSSL's "Certificate:" dumps) is ignored; a block whose labels differ
 * or whose body is not Base64 makes the whole text unreadable (undefined), never half-read.
 */
const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/=\s]*$/;

export function pemBlocks(text: string, label: string): Buffer[] | undefined {
  const out: Buffer[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const [, begin, body, end] = m as unknown as [string, string, string, string];
    if (begin !== end || !BASE64_BODY.test(body)) return undefined;
    if (begin !== label) continue;
    const compact = body.replace(/\s+/g, '');
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(compact) || compact.length === 0) return undefined;
    out.push(Buffer.from(compact, 'base64'));
  }
  return out;
}

/** Exactly one block of `label`, or undefined. */
export function pemBlock(text: string, label: string): Buffer | undefined {
  const blocks = pemBlocks(text, label);
  return blocks?.length === 1 ? blocks[0] : undefined;
}
