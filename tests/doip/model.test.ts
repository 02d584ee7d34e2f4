import { describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode } from '../../src/errors.js';
import { canonicalOperation, errorResult, parseResponse, parseStatus, requestFromSegments, responseSegments, statusForError } from '../../src/doip/message.js';
import { objectFromJson, objectFromRecord, objectValues } from '../../src/doip/objects.js';
import { idMatches, objectMatches, parseQuery, parseSortFields, sortObjects } from '../../src/doip/search.js';
import { jsonSegment, bytesSegment } from '../../src/doip/segments.js';
import { valueFromJson } from '../../src/records/handle-json.js';
import type { StoredRecord } from '../../src/records/record.js';
import { CairnError } from '../../src/errors.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('DOIP requests and responses', () => {
  it('reads the initial segment and keeps the rest as input segments', () => {
    const req = requestFromSegments([
      jsonSegment({ requestId: 'r1', clientId: '300:0.NA/20.5000', targetId: 'service', operationId: '0.DOIP/Op.Create', attributes: { a: 1 }, authentication: { password: 'x' } }),
      jsonSegment({ type: 'Document' }),
      bytesSegment(Buffer.from('data')),
    ]);
    expect(req).toMatchObject({ requestId: 'r1', clientId: '300:0.NA/20.5000', targetId: 'service', operationId: '0.DOIP/Op.Create', attributes: { a: 1 } });
    expect(req.input).toBeUndefined();
    expect(req.inputSegments).toHaveLength(2);
  });

  it.each([
    ['no segments', []],
    ['a bytes segment first', [bytesSegment(Buffer.from('x'))]],
    ['JSON that does not parse', [{ kind: 'json' as const, text: '{"targetId":' }]],
    ['a __proto__ key', [{ kind: 'json' as const, text: '{"targetId":"s","operationId":"o","__proto__":{}}' }]],
    ['no targetId', [jsonSegment({ operationId: '0.DOIP/Op.Hello' })]],
    ['no operationId', [jsonSegment({ targetId: 'service' })]],
    ['attributes that are not an object', [jsonSegment({ targetId: 'service', operationId: 'x', attributes: [1] })]],
    ['a requestId over 4096 bits', [jsonSegment({ targetId: 'service', operationId: 'x', requestId: 'r'.repeat(513) })]],
    ['a number as requestId', [jsonSegment({ targetId: 'service', operationId: 'x', requestId: 7 })]],
  ])('refuses a request with %s (ERR_DOIP_REQUEST_INVALID)', (_name, segments) => {
    expect(code(() => requestFromSegments(segments))).toBe('ERR_DOIP_REQUEST_INVALID');
  });

  it('knows operation ids case-insensitively (they are handles)', () => {
    expect(canonicalOperation('0.doip/op.RETRIEVE')).toBe('0.DOIP/Op.Retrieve');
    expect(canonicalOperation('0.DOIP/Op.Frobnicate')).toBeUndefined();
  });

  it('tolerates short status forms when reading responses', () => {
    expect(parseStatus('0.DOIP/Status.1')).toBe('0.DOIP/Status.001');
    expect(parseStatus('Status.104')).toBe('0.DOIP/Status.104');
    expect(parseStatus('0.doip/status.001')).toBe('0.DOIP/Status.001');
    expect(parseStatus('0.DOIP/Status.999')).toBeUndefined();
    expect(parseResponse([jsonSegment({ requestId: 'a', status: '0.DOIP/Status.1', output: { x: 1 } })])).toMatchObject({ requestId: 'a', status: '0.DOIP/Status.001', output: { x: 1 } });
  });

  it('maps every Cairn error onto a DOIP status', () => {
    const expected: Partial<Record<ErrorCode, string>> = {
      ERR_AUTH_REQUIRED: '0.DOIP/Status.102',
      ERR_AUTH_FAILED: '0.DOIP/Status.102',
      ERR_PERMISSION_DENIED: '0.DOIP/Status.103',
      ERR_PERMISSION_INSUFFICIENT: '0.DOIP/Status.103',
      ERR_HANDLE_NOT_FOUND: '0.DOIP/Status.104',
      ERR_HANDLE_DELETED: '0.DOIP/Status.104',
      ERR_DOIP_NOT_AN_OBJECT: '0.DOIP/Status.104',
      ERR_HANDLE_EXISTS: '0.DOIP/Status.105',
      ERR_DOIP_OPERATION_UNKNOWN: '0.DOIP/Status.200',
      ERR_INTERNAL: '0.DOIP/Status.500',
      ERR_DOIP_MESSAGE_INVALID: '0.DOIP/Status.101',
      ERR_QUERY_INVALID: '0.DOIP/Status.101',
    };
    for (const [c, status] of Object.entries(expected)) expect(statusForError(c as ErrorCode)).toBe(status);
    for (const c of Object.keys(ERRORS) as ErrorCode[]) expect(statusForError(c)).toMatch(/^0\.DOIP\/Status\.\d{3}$/);
  });

  it('answers errors with the message and the stable code as output, echoing the requestId', () => {
    const segments = responseSegments('r9', errorResult(new CairnError('ERR_HANDLE_NOT_FOUND', 'No digital object 20.5000/x')));
    expect(JSON.parse((segments[0] as { text: string }).text)).toEqual({
      requestId: 'r9',
      status: '0.DOIP/Status.104',
      output: { message: 'No digital object 20.5000/x', code: 'ERR_HANDLE_NOT_FOUND' },
    });
  });
});

/** A record as HandleService would store the given Handle JSON values. */
function record(values: unknown[], id = '20.5000/do1'): StoredRecord {
  return { id, family: 'handle', version: 1, created: 0, updated: 0, status: 'active', owner: '300:0.NA/20.5000', values: values.map((v, i) => valueFromJson(v, 0, `v${i}`)) };
}

describe('digital objects as handle values', () => {
  const object = {
    type: 'Document',
    attributes: { title: 'Hello', year: 2026 },
    elements: [
      { id: 'text', type: 'text/plain', data: Buffer.from('hello') },
      { id: 'raw', data: Buffer.from([0, 1, 2, 255]) },
    ],
  };

  it('lays out DOIP.TYPE, DOIP.ATTRIBUTES, DOIP.ELEMENTS and one DOIP.ELEMENT per element from index 1000', () => {
    const { values, orphans } = objectValues(object);
    expect(orphans).toEqual([]);
    expect(values.map((v) => [(v as { index: number }).index, (v as { type: string }).type])).toEqual([
      [1, 'DOIP.TYPE'],
      [2, 'DOIP.ATTRIBUTES'],
      [3, 'DOIP.ELEMENTS'],
      [1000, 'DOIP.ELEMENT'],
      [1001, 'DOIP.ELEMENT'],
    ]);
    const manifest = JSON.parse((values[2] as { data: { value: string } }).data.value);
    expect(manifest).toEqual([
      { id: 'text', type: 'text/plain', length: 5, sha256: 'LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=', index: 1000 },
      { id: 'raw', length: 4, sha256: expect.any(String), index: 1001 },
    ]);
  });

  it('reads back what it wrote', () => {
    const o = objectFromRecord(record(objectValues(object).values));
    expect(o).toEqual({ id: '20.5000/do1', ...object });
  });

  it('keeps element indexes by id on update, reuses freed ones and names the values to remove', () => {
    const first = record([...objectValues(object).values, { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '0.NA/20.5000', index: 300, permissions: '111111111111' } } }]);
    const next = { ...object, elements: [{ id: 'raw', data: Buffer.from('new') }, { id: 'extra', data: Buffer.from('e') }] };
    const { values, orphans } = objectValues(next, first.values);
    const elementIndexes = values.filter((v) => (v as { type: string }).type === 'DOIP.ELEMENT').map((v) => (v as { index: number }).index);
    expect(elementIndexes).toEqual([1001, 1000]);
    expect(orphans).toEqual([]);
    const { orphans: gone } = objectValues({ ...object, elements: [] }, first.values);
    expect(gone).toEqual([1000, 1001]);
  });

  it('is no object without a DOIP.TYPE value, or when tombstoned', () => {
    expect(objectFromRecord(record([{ index: 1, type: 'URL', data: 'https://example.org/' }]))).toBeUndefined();
    expect(objectFromRecord({ ...record(objectValues(object).values), status: 'tombstoned' })).toBeUndefined();
  });

  it.each([
    ['an unknown member', { type: 'x', colour: 'red' }],
    ['a non-object', ['x']],
    ['an element without id', { type: 'x', elements: [{ type: 'a' }] }],
    ['duplicate element ids', { type: 'x', elements: [{ id: 'a' }, { id: 'a' }] }],
    ['a type with a control character', { type: 'a\u0000b' }],
    ['attributes that are a string', { type: 'x', attributes: 'nope' }],
    ['element data that is not Base64', { type: 'x', elements: [{ id: 'a', data: 'not base64!' }] }],
    ['an element length that disagrees with its data', { type: 'x', elements: [{ id: 'a', data: 'aGk=', length: 5 }] }],
  ])('refuses input with %s', (_name, json) => {
    expect(code(() => objectFromJson(json))).toBe('ERR_DOIP_REQUEST_INVALID');
  });
});

describe('the search query language', () => {
  const doc = (id: string, type: string, attributes: Record<string, unknown>) => ({ id, type, attributes, elements: [] });

  it('parses type, id, attribute and free-text terms, quoted values and AND', () => {
    expect(parseQuery('type:Document AND id:20.5000/ab* title:"Hello world" /meta/year:2026 sensor')).toEqual([
      { kind: 'type', value: 'Document' },
      { kind: 'id', value: '20.5000/ab', prefix: true },
      { kind: 'field', path: ['title'], value: 'Hello world', prefix: false },
      { kind: 'field', path: ['meta', 'year'], value: '2026', prefix: false },
      { kind: 'text', value: 'sensor' },
    ]);
    expect(parseQuery('*')).toEqual([]);
    expect(parseQuery('*:*')).toEqual([]);
  });

  it.each(['OR', 'type:a OR type:b', '"unterminated', 'type:Doc*', 'bad field!:x', 42])('refuses %s', (q) => {
    expect(code(() => parseQuery(q))).toBe('ERR_QUERY_INVALID');
  });

  it('matches ids ASCII case-insensitively, attributes ignoring case, free text anywhere', () => {
    const o = doc('20.5000/Abc', 'Sensor', { name: 'Thermo One', meta: { year: 2026 } });
    expect(idMatches('20.5000/ABC', parseQuery('id:20.5000/abc'))).toBe(true);
    expect(objectMatches(o, parseQuery('type:Sensor name:"thermo one"'))).toBe(true);
    expect(objectMatches(o, parseQuery('meta.year:2026 thermo'))).toBe(true);
    expect(objectMatches(o, parseQuery('name:therm*'))).toBe(true);
    expect(objectMatches(o, parseQuery('type:sensor'))).toBe(false);
    expect(objectMatches(o, parseQuery('missing:x'))).toBe(false);
  });

  it('sorts by the specification form and by Cordra form, missing values last', () => {
    const list = [doc('20.5000/b', 'T', { n: 2 }), doc('20.5000/a', 'T', { n: 10 }), doc('20.5000/c', 'T', {})];
    expect(sortObjects([...list], parseSortFields('n DESC')).map((o) => o.id)).toEqual(['20.5000/a', '20.5000/b', '20.5000/c']);
    expect(sortObjects([...list], parseSortFields([{ name: 'id', reverse: false }])).map((o) => o.id)).toEqual(['20.5000/a', '20.5000/b', '20.5000/c']);
    expect(code(() => parseSortFields('n SIDEWAYS'))).toBe('ERR_QUERY_INVALID');
  });
});
