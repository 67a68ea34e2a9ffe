import { randomUUID } from 'node:crypto';
import { ConsoleLogger, type LogLevel as NestLogLevel } from '@nestjs/common';

/**
 * The API's and the worker's access logs: one JSON object per line on stdout
 * (`{"level","component","msg",…,"at"}`), the same shape as the gateway's, so one log pipeline
 * parses all three. Callers pass only fields that are safe to keep: ids, routes, statuses,
 * timings; never bodies, tokens or cookies.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface JsonLogger {
  enabled(level: LogLevel): boolean;
  log(level: LogLevel, msg: string, fields: Record<string, unknown>): void;
}

export function createJsonLogger(
  component: string,
  min: LogLevel,
  write: (line: string) => void = (l) => process.stdout.write(l),
): JsonLogger {
  const enabled = (level: LogLevel) => RANK[level] >= RANK[min];
  return {
    enabled,
    log: (level, msg, fields) => {
      if (enabled(level)) write(`${JSON.stringify({ level, component, msg, ...fields, at: new Date().toISOString() })}\n`);
    },
  };
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/**
 * The id that ties a request's log line to its trace: the W3C `traceparent` trace id when the
 * caller sent a valid one (the gateway, a proxy or a traced client), else a fresh request id.
 */
export function traceFields(traceparent: string | string[] | undefined): { traceId: string; spanId: string } | { requestId: string } {
  const m = typeof traceparent === 'string' ? TRACEPARENT.exec(traceparent.trim()) : null;
  if (m && !/^0+$/.test(m[1]!) && !/^0+$/.test(m[2]!)) return { traceId: m[1]!, spanId: m[2]! };
  return { requestId: randomUUID() };
}

const NEST_LEVELS: Record<LogLevel, NestLogLevel[]> = {
  debug: ['debug', 'log', 'warn', 'error', 'fatal'],
  info: ['log', 'warn', 'error', 'fatal'],
  warn: ['warn', 'error', 'fatal'],
  error: ['error', 'fatal'],
};

/** Nest's own messages (boot, consumers, outages) as JSON lines too, at LOG_LEVEL. */
export function nestLogger(level: LogLevel): ConsoleLogger {
  return new ConsoleLogger({ json: true, logLevels: NEST_LEVELS[level] });
}
