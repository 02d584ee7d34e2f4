import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllChildren, requireBuiltCli, runCairn } from '../helpers/child.js';

/** `--config FILE` and `cairn config` as users run them: the compiled CLI in a child process. */

let dir: string;
beforeAll(() => {
  requireBuiltCli();
  dir = mkdtempSync(join(tmpdir(), 'cairn-cli-config-'));
});
afterAll(async () => {
  await killAllChildren();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe('cairn config', () => {
  it('prints the effective configuration with the source of each value, secrets masked', async () => {
    const config = file('cairn.json', { httpPort: 9999, dataDir: 'served', adminSecret: 'file-admin-secret-1234' });
    const out = await runCairn(['--config', config, 'config'], { CAIRN_PREFIX: '21.T9', CAIRN_MIRROR_SECRET: 'env-mirror-secret' });
    expect(out.code).toBe(0);
    expect(out.stdout).not.toContain('file-admin-secret-1234');
    expect(out.stdout).not.toContain('env-mirror-secret');
    const shown = JSON.parse(out.stdout) as { file: string; config: Record<string, unknown>; sources: Record<string, string> };
    expect(shown.file).toBe(config);
    expect(shown.config).toMatchObject({ httpPort: 9999, dataDir: join(dir, 'served'), prefix: '21.T9', adminSecret: '<redacted>', mirrorSecret: '<redacted>' });
    expect(shown.sources).toMatchObject({ httpPort: 'file', dataDir: 'file', prefix: 'env', host: 'default', mirrorSecret: 'env' });
  });

  it('gives every command the file: doctor looks in the data directory the file names', async () => {
    const config = file('doctor.json', { dataDir: join(dir, 'no-store-here') });
    const out = await runCairn(['doctor', '--config', config], {});
    expect(out.code).toBe(66);
    expect(out.stdout).toContain(join(dir, 'no-store-here'));
  });

  it('refuses an unknown key with ERR_CONFIG_INVALID, naming the key and the file, before serving', async () => {
    const config = file('typo.json', { httpProt: 8081 });
    const out = await runCairn(['serve', '--config', config], {});
    expect(out.code).toBe(78);
    expect(out.stderr).toContain('ERR_CONFIG_INVALID');
    expect(out.stderr).toContain('"httpProt"');
    expect(out.stderr).toContain(config);
  });

  it('refuses a wrong type the same way', async () => {
    const config = file('types.json', { syncWrites: 'no' });
    const out = await runCairn(['config', '--config', config], {});
    expect(out.code).toBe(78);
    expect(out.stderr).toContain(`"syncWrites" in ${config} must be true or false`);
  });

  it('is a usage error without a file', async () => {
    const out = await runCairn(['config', '--config'], {});
    expect(out.code).toBe(64);
  });
});
