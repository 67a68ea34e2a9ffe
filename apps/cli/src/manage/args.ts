import { type ParseArgsConfig, parseArgs } from 'node:util';
import { usageError } from '../exit-codes';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every management command takes. */
const GLOBAL = {
  json: { type: 'boolean', default: false },
  org: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

/**
 * parseArgs with the global flags added and its errors turned into usage errors (exit 2) that
 * name the command, so `toolgate servers add --bogus` says what is wrong and where to look.
 */
export function parseCommand<O extends Options>(command: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...GLOBAL, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError(`${(e as Error).message.replace(/\. To specify a positional.*$/s, '')} (see toolgate ${command} --help)`);
  }
}

/** Just `--json`, read before the command's own parse, so even a usage error is reported as JSON. */
export const wantsJson = (args: readonly string[]) => args.includes('--json');

/** `NAME=VALUE` pairs of a repeated flag as an object; a missing `=` is a usage error naming the flag. */
export function pairs(flag: string, values: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw usageError(`--${flag} takes NAME=VALUE, got "${v}"`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** The one positional a subcommand needs, or a usage error saying which. */
export function onePositional(positionals: readonly string[], what: string, usage: string): string {
  if (positionals.length !== 1) throw usageError(`expected ${what}: ${usage}`);
  return positionals[0]!;
}
