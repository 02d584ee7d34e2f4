import { spawnSync } from 'node:child_process';

/**
 * External tools for interop tests. Missing tools skip the test with a message, except under
 * CI=true, where `.ci/run` has installed them and a missing one is a failure.
 */
export function hasTool(name: string, versionArgs: readonly string[] = ['version']): boolean {
  const found = spawnSync(name, versionArgs, { stdio: 'ignore' }).error === undefined;
  if (!found) {
    const message = `${name} is not installed: interop tests that need it are skipped (apt-get install ${name})`;
    if (process.env.CI === 'true') throw new Error(`${message}; CI=true requires it`);
    console.warn(message);
  }
  return found;
}
