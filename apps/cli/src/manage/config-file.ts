import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { configFile, readConfigFile } from '../config-dir';
import { usageError } from '../exit-codes';

/**
 * What `toolgate login` stores: the API to talk to and the management token to send. The file is
 * shared with other commands (connect's agent keys), so fields this schema does not name are kept.
 */
export const CliConfig = z.object({
  api: z.string().url(),
  token: z.string().min(1),
  /** Set at login when one was named with --org. */
  org: z.string().optional(),
});
export type CliConfig = z.output<typeof CliConfig>;

const LOGIN_FIELDS = ['api', 'token', 'org'] as const;

function readObject(env: NodeJS.ProcessEnv): Record<string, unknown> {
  try {
    return readConfigFile(configFile(env));
  } catch (e) {
    throw usageError(`${(e as Error).message}; run toolgate login again`);
  }
}

/** The stored login, or null when there is none; a damaged file is bad input, not a crash. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): CliConfig | null {
  const stored = readObject(env);
  if (LOGIN_FIELDS.every((field) => stored[field] === undefined)) return null;
  const parsed = CliConfig.safeParse(stored);
  if (!parsed.success) throw usageError(`${configFile(env)} holds no valid toolgate login; run toolgate login again`);
  return parsed.data;
}

function writeObject(file: string, object: Record<string, unknown>): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(object, null, 2)}\n`, { mode: 0o600 });
  // writeFileSync keeps the mode of a file that already existed.
  chmodSync(file, 0o600);
}

/** Writes the login readable by its owner only (it holds a credential), keeping the file's other fields. */
export function writeConfig(config: CliConfig, env: NodeJS.ProcessEnv = process.env): string {
  const file = configFile(env);
  const others = Object.fromEntries(
    Object.entries(readObject(env)).filter(([field]) => !(LOGIN_FIELDS as readonly string[]).includes(field)),
  );
  writeObject(file, { ...others, ...config });
  return file;
}

/** Forgets the login (other commands' fields stay); true when there was one. */
export function removeConfig(env: NodeJS.ProcessEnv = process.env): boolean {
  const stored = readObject(env);
  const existed = LOGIN_FIELDS.some((field) => stored[field] !== undefined);
  if (existed) {
    for (const field of LOGIN_FIELDS) delete stored[field];
    writeObject(configFile(env), stored);
  }
  return existed;
}
