import { commandAllowed, LAUNCHER_DIRS } from '@toolgate/policy';
import { ErrorCode, Problem } from '../../common/problem';

/**
 * Refuses a stdio command that is not one of the operator's launchers (STDIO_ALLOWED_COMMANDS):
 * 422 `command_not_allowed`, with the list as `allowedCommands` so a client can show what would
 * be accepted. A 422 rather than a field error: the request is well formed, this gateway's
 * operator refuses it.
 */
export function assertLauncherAllowed(command: string, allowed: readonly string[]): void {
  if (commandAllowed(command, allowed)) return;
  const list = allowed.length > 0 ? allowed.join(', ') : 'none (this gateway runs no stdio servers)';
  throw new Problem(
    422,
    ErrorCode.CommandNotAllowed,
    `The command "${command}" is not an allowed launcher on this gateway. Allowed: ${list}` +
      (allowed.length > 0 ? ` (also by absolute path in ${LAUNCHER_DIRS.join(', ')}).` : '.'),
    { command, allowedCommands: [...allowed] },
  );
}
