import type { Logger } from '@toolgate/gateway/src/log';
import { createLogger } from '@toolgate/gateway/src/log';

/**
 * The operator log on stderr (stdout may be an MCP channel): the gateway's JSON lines as they
 * are with --json-logs, else one readable line each (`warn gateway: message key=value`).
 */
export function logWriter(json: boolean): (line: string) => void {
  if (json) return (line) => process.stderr.write(line);
  return (line) => {
    try {
      const { level, component, msg, at: _at, ...fields } = JSON.parse(line) as Record<string, unknown>;
      const extra = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      process.stderr.write(`${level} ${component}: ${msg}${extra ? ` ${extra}` : ''}\n`);
    } catch {
      process.stderr.write(line);
    }
  };
}

export function cliLogger(json: boolean, level: 'debug' | 'info' | 'warn' | 'error' = 'info'): Logger {
  return createLogger('toolgate', level, logWriter(json));
}
