import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, ENVIRONMENT } from '../../src/config.js';
import * as errors from '../../src/errors.js';
import { CairnError, ERRORS, type ErrorCode } from '../../src/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').replaceAll('\r\n', '\n');

function tableAfter(heading: string): string[][] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const lines = section.split('\n').filter((l) => l.startsWith('| `'));
  const out: string[][] = [];
  for (const line of lines) out.push(line.split('|').slice(1, -1).map((c) => c.trim().replace(/^`|`$/g, '')));
  return out;
}

describe('README stays in step with the code', () => {
  it('lists every error code with its HTTP status, Handle responseCode and title, and nothing else', () => {
    const rows = tableAfter('Errors').filter((r) => r[0]!.startsWith('ERR_'));
    const documented = Object.fromEntries(rows.map(([code, status, handleCode, title]) => [code, { status: Number(status), handleCode: Number(handleCode), title }]));
    expect(documented).toEqual(ERRORS);
  });

  it('has one error class per code', () => {
    const exported: unknown[] = Object.values(errors);
    const classes = exported.filter((x): x is new () => CairnError => typeof x === 'function' && x.prototype instanceof CairnError);
    const codes = classes.map((C) => new C().code).sort();
    expect(codes).toEqual((Object.keys(ERRORS) as ErrorCode[]).sort());
  });

  it('documents every environment variable', () => {
    const rows = tableAfter('Configuration');
    expect(rows.map((r) => r[0]).sort()).toEqual(Object.values(ENVIRONMENT).sort());
    const port = rows.find((r) => r[0] === 'CAIRN_HTTP_PORT')!;
    expect(port[1]).toBe(String(DEFAULTS.httpPort));
  });
});
