/**
 * The gateway's operator log: one JSON object per line on stderr (`{"level","msg","at",…}`), so
 * log shippers need no parsing rules. Fields must already be masked: callers pass stderr tails
 * and reasons through the backend's redactor before they get here.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Whether a line at this level would be written (skip building fields that would be dropped). */
  enabled(level: LogLevel): boolean;
}

/** `debug` is accepted (one LOG_LEVEL for API, worker and gateway) and logs what `info` does. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 0, info: 0, warn: 1, error: 2 };

export function createLogger(
  component: string,
  min: LogLevel = 'info',
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const log =
    (level: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (RANK[level] >= RANK[min]) write(`${JSON.stringify({ level, component, msg, ...fields, at: new Date().toISOString() })}\n`);
    };
  return { info: log('info'), warn: log('warn'), error: log('error'), enabled: (level) => RANK[level] >= RANK[min] };
}
