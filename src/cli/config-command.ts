import { loadConfigWithSources, redactConfig, type ConfigSource } from '../config.js';

/**
 * The global `--config FILE` (or `--config=FILE`) option, taken out of the arguments wherever it
 * stands, so that every command reads the same configuration. Returns an error message for a
 * flag without a value or given twice.
 */
export function takeConfigFlag(argv: readonly string[]): { file: string | undefined; rest: string[] } | { error: string } {
  let file: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let value: string | undefined;
    if (arg === '--config') value = argv[++i] ?? '';
    else if (arg.startsWith('--config=')) value = arg.slice('--config='.length);
    else {
      rest.push(arg);
      continue;
    }
    if (value === '' || value.startsWith('--')) return { error: '--config needs a file: cairn --config cairn.json <command>' };
    if (file !== undefined) return { error: '--config given twice' };
    file = value;
  }
  return { file, rest };
}

export interface EffectiveConfig {
  /** The configuration file read (absolute), or null. */
  readonly file: string | null;
  /** Every setting by its file key; secrets that are set show as "<redacted>", unset values as null. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Where each value came from: default, file or env. */
  readonly sources: Readonly<Record<string, ConfigSource>>;
}

/** `cairn config`: the effective configuration without secrets, and the source of each value. */
export function effectiveConfig(env: NodeJS.ProcessEnv, file: string | undefined): EffectiveConfig {
  const loaded = loadConfigWithSources(env, file);
  const shown = Object.fromEntries(Object.entries(redactConfig(loaded.config)).map(([k, v]) => [k, v === undefined ? null : v]));
  return { file: loaded.file ?? null, config: shown, sources: loaded.sources };
}
