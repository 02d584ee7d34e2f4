import { describe, expect, it } from 'vitest';
import { serveConfig, UsageError } from '../../src/cli/cli.js';
import { loadConfig } from '../../src/config.js';

const credentials = { CAIRN_MIRROR_IDENTITY: '300:0.NA/20.5000', CAIRN_MIRROR_SECRET: 'replication-secret' };

describe('cairn serve --mirror-of', () => {
  it('runs a primary without it, a mirror with it (the flag wins over CAIRN_MIRROR_OF)', () => {
    expect(serveConfig(loadConfig(credentials), []).mirrorOf).toBeUndefined();
    expect(serveConfig(loadConfig(credentials), ['--mirror-of', 'http://127.0.0.1:8080/']).mirrorOf).toBe('http://127.0.0.1:8080');
    expect(serveConfig(loadConfig(credentials), ['--mirror-of=https://primary.example/base/']).mirrorOf).toBe('https://primary.example/base');
    const fromEnv = loadConfig({ ...credentials, CAIRN_MIRROR_OF: 'http://a.example' });
    expect(serveConfig(fromEnv, []).mirrorOf).toBe('http://a.example');
    expect(serveConfig(fromEnv, ['--mirror-of', 'http://b.example']).mirrorOf).toBe('http://b.example');
  });

  it('needs the credentials the mirror reads the feed with', () => {
    expect(() => serveConfig(loadConfig({}), ['--mirror-of', 'http://127.0.0.1:8080'])).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID', message: expect.stringMatching(/CAIRN_MIRROR_IDENTITY/) }));
    expect(() => serveConfig(loadConfig({ ...credentials, CAIRN_MIRROR_IDENTITY: 'replicator' }), ['--mirror-of', 'http://x.example'])).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
  });

  it.each([[['--mirror-of']], [['--mirror-of', '--verbose']], [['--mirror']], [['--mirror-of', 'http://x.example', 'extra']]])('refuses %j as a usage error', (args) => {
    expect(() => serveConfig(loadConfig(credentials), args)).toThrow(UsageError);
  });
});
