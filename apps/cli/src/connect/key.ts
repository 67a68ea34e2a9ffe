import { z } from 'zod';
import { configFile, readableByOthers, readConfigFile } from '../config-dir';

export const DEFAULT_KEY_ENV = 'TOOLGATE_KEY';

/** The agent-key part of the CLI's config file (other commands keep their own fields beside it). */
export const AgentKeysConfig = z.object({
  /** The key per endpoint URL, exactly as given to `toolgate connect`. */
  agentKeys: z.record(z.string(), z.string().min(1)).optional(),
  /** The key for any other endpoint. */
  agentKey: z.string().min(1).optional(),
});

export type KeySource = { key: string; from: string } | { problem: string };

/**
 * The agent key `connect` presents: `$NAME` when --key-env NAME is given (only there), else
 * $TOOLGATE_KEY, else the config file's `agentKeys[endpoint]` or `agentKey`. `from` names where it
 * came from, for messages; the key itself is never printed.
 */
export function resolveKey(endpoint: string, keyEnv: string | undefined, env: NodeJS.ProcessEnv = process.env): KeySource {
  const name = keyEnv ?? DEFAULT_KEY_ENV;
  if (env[name]) return { key: env[name]!, from: `$${name}` };
  if (keyEnv !== undefined) return { problem: `$${keyEnv} is not set (--key-env names the variable that holds the agent key)` };
  const file = configFile(env);
  let config: Record<string, unknown>;
  try {
    config = readConfigFile(file);
  } catch (e) {
    return { problem: (e as Error).message };
  }
  const parsed = AgentKeysConfig.safeParse(config);
  if (!parsed.success) return { problem: `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  const key = parsed.data.agentKeys?.[endpoint] ?? parsed.data.agentKey;
  if (key) return { key, from: file };
  return {
    problem: `no agent key: set $${DEFAULT_KEY_ENV} (or name another variable with --key-env NAME), or put {"agentKeys": {"${endpoint}": "tg_…"}} in ${file}`,
  };
}

/** A warning when the key's file is readable by others, or nothing. */
export function keyFileWarning(from: string): string | undefined {
  if (from.startsWith('$')) return undefined;
  return readableByOthers(from) ? `${from} holds an agent key and is readable by other users: chmod 600 it` : undefined;
}
