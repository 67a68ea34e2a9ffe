import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * Where the `toolgate` command keeps its own settings (agent keys for `connect`, the management
 * login): the OS convention, so one place serves every command. macOS: ~/Library/Application
 * Support/toolgate; Windows: %APPDATA%\toolgate; elsewhere the XDG base directory
 * ($XDG_CONFIG_HOME/toolgate, else ~/.config/toolgate). TOOLGATE_CONFIG_DIR overrides all.
 */
export function configDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.TOOLGATE_CONFIG_DIR) return env.TOOLGATE_CONFIG_DIR;
  if (platform === 'win32')
    return path.win32.join(env.APPDATA || path.win32.join(env.USERPROFILE || homedir(), 'AppData', 'Roaming'), 'toolgate');
  const home = env.HOME || homedir();
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Application Support', 'toolgate');
  // XDG: a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = env.XDG_CONFIG_HOME;
  return path.posix.join(xdg && path.posix.isAbsolute(xdg) ? xdg : path.posix.join(home, '.config'), 'toolgate');
}

export function configFile(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  return (platform === 'win32' ? path.win32 : path.posix).join(configDir(env, platform), 'config.json');
}

/** The config file's JSON object; {} when there is none. Throws with the file's name when it is not valid JSON. */
export function readConfigFile(file: string = configFile()): Record<string, unknown> {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file}: must hold a JSON object`);
  return parsed as Record<string, unknown>;
}

/** Whether others than the owner may read the file (it holds credentials: it should be 0600). */
export function readableByOthers(file: string): boolean {
  return process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0;
}
