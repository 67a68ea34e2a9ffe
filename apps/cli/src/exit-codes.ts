/**
 * The exit codes of every toolgate command, stable for scripts (documented in `toolgate --help`):
 * 0 done; 1 the remote side failed or a check did not pass (API error, unreachable API, broken
 * audit chain); 2 bad usage or bad input (flags, files, validation); 3 authentication or
 * permission refused (401/403, no token); 4 something named does not exist (404, unknown slug).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, auth: 3, notFound: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the command reports as a message and an exit code, never a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** Machine-readable detail for `--json` (the API's problem code, field errors, …). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string, details: Record<string, unknown> = {}) => new CliError(message, EXIT.usage, details);
export const notFound = (message: string) => new CliError(message, EXIT.notFound, { code: 'not_found' });
