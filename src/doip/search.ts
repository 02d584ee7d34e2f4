import { QueryInvalid } from '../errors.js';
import type { DigitalObject } from './objects.js';

/**
 * The `Op.Search` query language Cairn understands (a small subset of the Lucene syntax Cordra
 * uses). Pure: parsing, matching and ordering; the operation does the looking up.
 *
 *   query  = "*" / "*:*" / term *(1*SP term)        ; terms are AND-ed ("AND" between them is allowed)
 *   term   = [field ":"] value
 *   field  = "type" / "id" / attribute path          ; a path is `name` or `a.b.c` or `/a/b/c`
 *   value  = 1*(any but SP and '"') / DQUOTE *(char / "\" DQUOTE / "\\") DQUOTE
 *
 * `type:X` matches the type exactly (and is answered from the type index); `id:X` matches the id
 * (ASCII case-insensitively, as handles compare), `id:20.5000/abc*` by prefix; `path:value`
 * matches an attribute whose value (string, number or boolean) equals `value` ignoring case, or
 * starts with it when `value` ends in `*`; a bare value matches when it occurs, ignoring case, in the
 * id, the type or the text of the attributes.
 */

export type Term =
  | { readonly kind: 'type'; readonly value: string }
  | { readonly kind: 'id'; readonly value: string; readonly prefix: boolean }
  | { readonly kind: 'field'; readonly path: readonly string[]; readonly value: string; readonly prefix: boolean }
  | { readonly kind: 'text'; readonly value: string };

export interface SortField {
  readonly field: 'id' | 'type' | readonly string[];
  readonly descending: boolean;
}

const MAX_QUERY_LENGTH = 1024;
const MAX_TERMS = 16;
const MAX_SORT_FIELDS = 4;
const PATH = /^(\/[^/\s]+)+$|^[A-Za-z_][\w-]*(\.[\w-]+)*$/;

function tokens(query: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < query.length) {
    if (query[i] === ' ' || query[i] === '\t') {
      i++;
      continue;
    }
    let token = '';
    while (i < query.length && query[i] !== ' ' && query[i] !== '\t') {
      if (query[i] === '"') {
        // A quoted run: spaces kept, \" and \\ escaped. Marked so that "*" inside stays literal.
        i++;
        let quoted = '';
        for (;;) {
          if (i >= query.length) throw new QueryInvalid('Unterminated quote in the search query');
          const c = query[i]!;
          if (c === '\\' && (query[i + 1] === '"' || query[i + 1] === '\\')) {
            quoted += query[i + 1];
            i += 2;
          } else if (c === '"') {
            i++;
            break;
          } else {
            quoted += c;
            i++;
          }
        }
        token += `\u0000${quoted}\u0000`;
      } else {
        token += query[i];
        i++;
      }
    }
    out.push(token);
  }
  return out;
}

/** Splits `field:value` at the first colon outside quotes; returns the value and whether it ends in an unquoted `*`. */
function value(raw: string): { value: string; prefix: boolean } {
  const prefix = raw.endsWith('*');
  const body = prefix ? raw.slice(0, -1) : raw;
  return { value: body.replaceAll('\u0000', ''), prefix };
}

export function parseQuery(query: unknown): Term[] {
  if (typeof query !== 'string') throw new QueryInvalid('The search attribute "query" is required and must be a string');
  if (query.length > MAX_QUERY_LENGTH) throw new QueryInvalid(`The search query is longer than ${MAX_QUERY_LENGTH} characters`);
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(query)) throw new QueryInvalid('The search query contains control characters');
  const terms: Term[] = [];
  for (const token of tokens(query)) {
    if (token === 'AND' || token === '*' || token === '*:*') continue;
    if (token === 'OR' || token === 'NOT' || token.startsWith('-') || token.startsWith('(')) {
      throw new QueryInvalid(`The search query uses "${token}": only AND-ed terms are supported (type:X id:X field:value text)`);
    }
    const quoteAt = token.indexOf('\u0000');
    const colon = token.indexOf(':');
    if (colon > 0 && (quoteAt < 0 || colon < quoteAt)) {
      const field = token.slice(0, colon);
      const { value: v, prefix } = value(token.slice(colon + 1));
      if (v.length === 0 && !prefix) throw new QueryInvalid(`The search term "${field}:" has no value`);
      if (field === 'type') {
        if (prefix) throw new QueryInvalid('type: matches exactly; it takes no "*"');
        terms.push({ kind: 'type', value: v });
      } else if (field === 'id') {
        terms.push({ kind: 'id', value: v, prefix });
      } else if (PATH.test(field)) {
        const path = field.startsWith('/') ? field.slice(1).split('/') : field.split('.');
        terms.push({ kind: 'field', path: path[0] === 'attributes' && path.length > 1 ? path.slice(1) : path, value: v, prefix });
      } else {
        throw new QueryInvalid(`"${field}" is not a field name (type, id, or an attribute path such as name or content.title)`);
      }
    } else {
      const v = token.replaceAll('\u0000', '');
      if (v.length > 0) terms.push({ kind: 'text', value: v });
    }
    if (terms.length > MAX_TERMS) throw new QueryInvalid(`At most ${MAX_TERMS} search terms`);
  }
  return terms;
}

/** The attribute at `path`, or undefined. */
export function attributeAt(attributes: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let at: unknown = attributes;
  for (const step of path) {
    if (typeof at !== 'object' || at === null || Array.isArray(at) || !Object.hasOwn(at, step)) return undefined;
    at = (at as Record<string, unknown>)[step];
  }
  return at;
}

const fold = (s: string): string => s.toLowerCase();
/** Handles compare case-insensitively in ASCII only. */
const foldAscii = (s: string): string => s.replace(/[a-z]+/g, (x) => x.toUpperCase());

/** Does the id alone satisfy the id terms? (Checked before anything is loaded.) */
export function idMatches(id: string, terms: readonly Term[]): boolean {
  return terms.every((t) => {
    if (t.kind !== 'id') return true;
    const a = foldAscii(id);
    const b = foldAscii(t.value);
    return t.prefix ? a.startsWith(b) : a === b;
  });
}

/** Does the object satisfy every term? */
export function objectMatches(o: DigitalObject & { id: string }, terms: readonly Term[]): boolean {
  let attributesText: string | undefined;
  return terms.every((t) => {
    switch (t.kind) {
      case 'type':
        return o.type === t.value;
      case 'id':
        return idMatches(o.id, [t]);
      case 'field': {
        const v = attributeAt(o.attributes, t.path);
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return false;
        const s = fold(String(v));
        return t.prefix ? s.startsWith(fold(t.value)) : s === fold(t.value);
      }
      case 'text': {
        attributesText ??= fold(JSON.stringify(o.attributes));
        const needle = fold(t.value);
        return fold(o.id).includes(needle) || fold(o.type).includes(needle) || attributesText.includes(needle);
      }
    }
  });
}

/** Does answering the query need each object loaded (anything beyond type and id terms)? */
export function needsObjects(terms: readonly Term[]): boolean {
  return terms.some((t) => t.kind === 'field' || t.kind === 'text');
}

function sortField(name: string, descending: boolean): SortField {
  if (name === 'id' || name === 'type') return { field: name, descending };
  if (!PATH.test(name)) throw new QueryInvalid(`Cannot sort by "${name}": use id, type or an attribute path`);
  const path = name.startsWith('/') ? name.slice(1).split('/') : name.split('.');
  return { field: path[0] === 'attributes' && path.length > 1 ? path.slice(1) : path, descending };
}

/** `sortFields`: "id ASC,/title DESC" (the specification's form) or [{"name", "reverse"}] (Cordra's). */
export function parseSortFields(input: unknown): SortField[] {
  if (input === undefined || input === null || input === '') return [];
  let fields: SortField[];
  if (typeof input === 'string') {
    fields = input.split(',').map((spec) => {
      const m = /^\s*(\S+)(?:\s+(ASC|DESC))?\s*$/i.exec(spec);
      if (!m) throw new QueryInvalid(`sortFields entry "${spec}" is not "field [ASC|DESC]"`);
      return sortField(m[1]!, m[2]?.toUpperCase() === 'DESC');
    });
  } else if (Array.isArray(input)) {
    fields = input.map((x: unknown) => {
      const o = x as { name?: unknown; reverse?: unknown };
      if (typeof o !== 'object' || o === null || typeof o.name !== 'string') throw new QueryInvalid('sortFields entries must be {"name": ..., "reverse": true|false}');
      return sortField(o.name, o.reverse === true);
    });
  } else {
    throw new QueryInvalid('sortFields must be a string "field ASC,field DESC" or an array of {"name", "reverse"}');
  }
  if (fields.length > MAX_SORT_FIELDS) throw new QueryInvalid(`At most ${MAX_SORT_FIELDS} sort fields`);
  return fields;
}

function sortKey(o: DigitalObject & { id: string }, f: SortField): string | number | undefined {
  if (f.field === 'id') return foldAscii(o.id);
  if (f.field === 'type') return o.type;
  const v = attributeAt(o.attributes, f.field);
  if (typeof v === 'number') return v;
  if (typeof v === 'string' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Sorts in place; missing values sort last whatever the direction; ties keep index order. */
export function sortObjects<T extends DigitalObject & { id: string }>(objects: T[], fields: readonly SortField[]): T[] {
  if (fields.length === 0) return objects;
  const keyed = objects.map((o, i) => ({ o, i, keys: fields.map((f) => sortKey(o, f)) }));
  keyed.sort((a, b) => {
    for (let k = 0; k < fields.length; k++) {
      const x = a.keys[k];
      const y = b.keys[k];
      if (x === y) continue;
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      let c: number;
      if (typeof x === 'number' && typeof y === 'number') c = x - y;
      else c = String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0;
      if (c !== 0) return fields[k]!.descending ? -c : c;
    }
    return a.i - b.i;
  });
  keyed.forEach((k, i) => (objects[i] = k.o));
  return objects;
}
