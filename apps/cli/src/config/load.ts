import path from 'node:path';
import { agentKeyPrefix, type PolicySnapshot, sealSecret, sha256Hex, type ValueSource } from '@toolgate/contracts';
import { type CompileKeyInput, type CompileServerInput, compile, PolicyCompileError } from '@toolgate/policy';
import { type ConfigProblem, ConfigError } from './errors';
import { StandaloneConfig, type ValueRef } from './schema';
import { readSecretsFile } from './secrets-file';
import { problemAt, readYamlFile, schemaProblems } from './yaml-file';

export interface LoadOptions {
  /** Where `{env: NAME}` references and keys' `env` are read from. */
  env: NodeJS.ProcessEnv;
  /** Seals the referenced secrets into the snapshot (the gateway opens them only for a backend). */
  secretKey: Buffer;
  /** The snapshot version: each reload gets a higher one. */
  version: number;
}

export interface LoadedConfig {
  file: string;
  config: StandaloneConfig;
  snapshot: PolicySnapshot;
  /** Files whose change means a reload (the YAML, its secrets file). */
  sources: string[];
  audit: string;
  usage: string;
}

/** Stable ids from names: a reload keeps keys, roles and servers the same things (audit, sessions). */
export const ids = {
  role: (name: string) => `role:${name}`,
  key: (name: string) => `key:${name}`,
  server: (slug: string) => `server:${slug}`,
};

/**
 * Reads, validates and compiles a standalone config. Throws ConfigError listing every problem
 * with its file and line: YAML syntax, schema, unknown roles, unset variables and secrets, and
 * what the policy compiler refuses.
 */
export function loadConfig(file: string, opts: LoadOptions): LoadedConfig {
  const abs = path.resolve(file);
  const yaml = readYamlFile(file, abs);
  const problems: ConfigProblem[] = [];
  const at = (p: readonly PropertyKey[], message: string, where: 'value' | 'key' = 'value') =>
    problems.push(problemAt(yaml, p, message, where));

  const parsed = StandaloneConfig.safeParse(yaml.data);
  if (!parsed.success) throw new ConfigError(schemaProblems(yaml, parsed.error));
  const config = parsed.data;
  const dir = path.dirname(abs);
  const sources = [abs];
  let fileSecrets = new Map<string, string>();
  if (config.secretsFile) {
    const secretsPath = path.resolve(dir, config.secretsFile);
    sources.push(secretsPath);
    fileSecrets = readSecretsFile(secretsPath, problems);
  }

  const orgId = config.org;
  const sealed: Record<string, string> = {};
  const source = (ref: ValueRef, where: PropertyKey[]): ValueSource | null => {
    if (typeof ref === 'string') return { value: ref };
    const [name, value] = 'env' in ref ? [`env:${ref.env}`, opts.env[ref.env]] : [`file:${ref.secret}`, fileSecrets.get(ref.secret)];
    if (value === undefined || value === '') {
      at(
        where,
        'env' in ref
          ? `environment variable ${ref.env} is not set`
          : config.secretsFile
            ? `secret "${ref.secret}" is not in ${config.secretsFile}`
            : `secret "${ref.secret}" is referenced but no secretsFile is configured`,
      );
      return null;
    }
    sealed[name] = sealSecret(opts.secretKey, orgId, value);
    return { secret: name };
  };

  const servers: CompileServerInput[] = Object.entries(config.servers).map(([slug, s]) => {
    const refs = (field: 'env' | 'headers') =>
      Object.fromEntries(
        Object.entries(s[field]).flatMap(([name, ref]) => {
          const v = source(ref, ['servers', slug, field, name]);
          return v ? [[name, v]] : [];
        }),
      );
    return {
      id: ids.server(slug),
      slug,
      name: s.name ?? slug,
      transport: s.transport,
      command: s.command ?? null,
      args: s.args,
      url: s.url ?? null,
      env: refs('env'),
      headers: refs('headers'),
      enabled: s.enabled,
      tags: s.tags,
      timeoutMs: s.timeoutMs,
      network: s.network,
      isolation: s.isolation,
    };
  });

  const keys: CompileKeyInput[] = Object.entries(config.keys).flatMap(([name, k]) => {
    k.roles.forEach((role, i) => {
      if (!Object.hasOwn(config.roles, role)) at(['keys', name, 'roles', i], `no role "${role}" is defined under roles`);
    });
    let hash = k.hash;
    let prefix = `sha256:${k.hash?.slice(0, 8)}`;
    if (k.env !== undefined) {
      const value = opts.env[k.env];
      if (!value) {
        at(['keys', name, 'env'], `environment variable ${k.env} is not set`);
        return [];
      }
      hash = sha256Hex(value);
      prefix = agentKeyPrefix(value);
    }
    return [
      {
        id: ids.key(name),
        name,
        prefix,
        hash: hash!,
        roleIds: k.roles.map(ids.role),
        metadata: k.metadata,
        expiresAt: k.expiresAt ? new Date(k.expiresAt) : null,
        revokedAt: null,
      },
    ];
  });
  if (problems.length > 0) throw new ConfigError(problems);

  let snapshot: PolicySnapshot;
  try {
    snapshot = compile({
      org: { id: orgId, slug: config.org, plan: 'standalone', monthlyCallQuota: config.limits.monthlyCallQuota },
      version: opts.version,
      compiledAt: new Date(),
      keys,
      servers,
      roles: Object.entries(config.roles).map(([name, rules]) => ({ id: ids.role(name), name, rules })),
      secrets: sealed,
    });
  } catch (e) {
    if (!(e instanceof PolicyCompileError)) throw e;
    at(compileErrorPath(e, config), e.message);
    throw new ConfigError(problems);
  }
  return {
    file: abs,
    config,
    snapshot,
    sources,
    audit: path.resolve(dir, config.audit.file),
    usage: path.resolve(dir, config.usage.file),
  };
}

/** Where in the file the compiler's complaint belongs (it names the role, server or key). */
function compileErrorPath(e: PolicyCompileError, config: StandaloneConfig): PropertyKey[] {
  const d = e.details;
  if (d.role && Object.hasOwn(config.roles, d.role)) return ['roles', d.role];
  if (d.server && Object.hasOwn(config.servers, d.server)) return ['servers', d.server];
  if (d.key && Object.hasOwn(config.keys, d.key)) return ['keys', d.key];
  return [];
}
