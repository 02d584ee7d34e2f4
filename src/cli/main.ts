#!/usr/bin/env node
import { CairnError } from '../errors.js';
import { runCli, ServerUnreachable, UsageError } from './cli.js';

runCli(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    const fsCode = (err as NodeJS.ErrnoException)?.code;
    if (err instanceof UsageError) {
      process.stderr.write(`cairn: ${err.message}\n`);
      process.exitCode = 64; // EX_USAGE
    } else if (err instanceof ServerUnreachable) {
      process.stderr.write(`cairn: ${err.message}\n`);
      process.exitCode = 69; // EX_UNAVAILABLE
    } else if (fsCode === 'ENOENT' || fsCode === 'EACCES' || fsCode === 'EISDIR') {
      process.stderr.write(`cairn: cannot read ${(err as NodeJS.ErrnoException).path ?? 'file'}: ${fsCode}\n`);
      process.exitCode = 66; // EX_NOINPUT
    } else if (err instanceof CairnError) {
      process.stderr.write(`cairn: ${err.code}: ${err.message}\n`);
      process.exitCode = exitCodeFor(err);
    } else {
      process.stderr.write(`cairn: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 70;
    }
  },
);

/** sysexits-style exit codes by error code. */
function exitCodeFor(err: CairnError): number {
  switch (err.code) {
    case 'ERR_CONFIG_INVALID':
      return 78; // EX_CONFIG
    case 'ERR_STORE_LOCKED':
      return 75; // EX_TEMPFAIL
    case 'ERR_HANDLE_NOT_FOUND':
    case 'ERR_HANDLE_DELETED':
      return 2;
    case 'ERR_AUTH_REQUIRED':
    case 'ERR_AUTH_FAILED':
    case 'ERR_PERMISSION_DENIED':
      return 77; // EX_NOPERM
    default:
      return err.status >= 500 ? 70 : 65; // EX_SOFTWARE, EX_DATAERR
  }
}
