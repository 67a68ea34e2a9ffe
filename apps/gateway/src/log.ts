/**
 * The gateway's operator log: one JSON object per line on stderr (`{"level","msg","at",…}`), so
 * log shippers need no parsing rules. Fields must already be masked: callers pass stderr tails
 * and reasons through the backend's redactor before they get here.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(component: string, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const log =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}) =>
      write(`${JSON.stringify({ level, component, msg, ...fields, at: new Date().toISOString() })}\n`);
  return { info: log('info'), warn: log('warn'), error: log('error') };
}
