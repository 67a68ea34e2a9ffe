import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { usageError } from './exit-codes';

/** What `toolgate login` stores: the API to talk to and the management token to send. */
export const CliConfig = z
  .object({
    api: z.string().url(),
    token: z.string().min(1),
    /** Set at login when the token cannot list orgs (a service account) or one was named. */
    org: z.string().optional(),
  })
  .strict();
export type CliConfig = z.output<typeof CliConfig>;

/** `$XDG_CONFIG_HOME/toolgate`, or `~/.config/toolgate` (the XDG base directory default). */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(homedir(), '.config');
  return path.join(base, 'toolgate');
}

export const configFile = (env: NodeJS.ProcessEnv = process.env) => path.join(configDir(env), 'config.json');

/** The stored login, or null when there is none; a damaged file is bad input, not a crash. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): CliConfig | null {
  const file = configFile(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw usageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let parsed: ReturnType<typeof CliConfig.safeParse>;
  try {
    parsed = CliConfig.safeParse(JSON.parse(text));
  } catch {
    throw usageError(`${file} is not valid JSON; run toolgate login again`);
  }
  if (!parsed.success) throw usageError(`${file} is not a toolgate config; run toolgate login again`);
  return parsed.data;
}

/** Writes the login readable by its owner only: it holds a credential. */
export function writeConfig(config: CliConfig, env: NodeJS.ProcessEnv = process.env): string {
  const file = configFile(env);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // writeFileSync keeps the mode of a file that already existed.
  chmodSync(file, 0o600);
  return file;
}

/** Forgets the login; true when there was one. */
export function removeConfig(env: NodeJS.ProcessEnv = process.env): boolean {
  const file = configFile(env);
  const existed = existsSync(file);
  rmSync(file, { force: true });
  return existed;
}
