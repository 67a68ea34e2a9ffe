/** MCP's log levels, least severe first (logging/setLevel, notifications/message). */
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/** Should a log message of `level` reach a session that asked for `min`? */
export function logPasses(level: unknown, min: string | null): boolean {
  if (!min) return true;
  const l = LOG_LEVELS.indexOf(String(level));
  return l === -1 || l >= LOG_LEVELS.indexOf(min);
}
