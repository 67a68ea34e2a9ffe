import { Inject, Injectable } from '@nestjs/common';
import { type SecretView, sealSecret } from '@toolgate/contracts';
import type { AuthUser, OrgContext } from '../../common/auth';
import { ErrorCode, Problem } from '../../common/problem';
import { ENV, type Env } from '../../config/env';
import { OrgChangeService } from '../snapshots/org-change.service';
import type { PutSecretDto } from './secrets.dto';
import { type SecretMeta, SecretsRepository, type ServerRefs } from './secrets.repository';

export interface SecretUse {
  serverId: string;
  slug: string;
}

/** Names of the secrets a server's headers and env reference (`{secret: NAME}` values). */
export function secretsReferencedBy(server: Pick<ServerRefs, 'headers' | 'env'>): Set<string> {
  const names = new Set<string>();
  for (const map of [server.headers, server.env]) {
    if (!map || typeof map !== 'object' || Array.isArray(map)) continue;
    for (const source of Object.values(map as Record<string, unknown>)) {
      const secret = (source as { secret?: unknown } | null)?.secret;
      if (typeof secret === 'string') names.add(secret);
    }
  }
  return names;
}

/** Secret name → the servers that use it. */
function usageIndex(servers: ServerRefs[]): Map<string, SecretUse[]> {
  const index = new Map<string, SecretUse[]>();
  for (const server of servers) {
    for (const name of secretsReferencedBy(server)) {
      const uses = index.get(name) ?? [];
      uses.push({ serverId: server.id, slug: server.slug });
      index.set(name, uses);
    }
  }
  return index;
}

/** The public shape of a secret: metadata only, never the value (sealed or not). */
const secretView = (s: SecretMeta, usedBy: SecretUse[]): SecretView => ({
  name: s.name,
  description: s.description,
  createdAt: s.createdAt.toISOString(),
  updatedAt: s.updatedAt.toISOString(),
  usedBy,
});

/**
 * Org secrets: values are sealed (AES-256-GCM, org id as AAD) on write and are never readable
 * through the API. Only the gateway opens them, when it starts a backend that references them.
 */
@Injectable()
export class SecretsService {
  constructor(
    private readonly repo: SecretsRepository,
    private readonly changes: OrgChangeService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async list(org: OrgContext) {
    const [secrets, servers] = await Promise.all([this.repo.list(org.id), this.repo.servers(org.id)]);
    const uses = usageIndex(servers);
    return { items: secrets.map((s) => secretView(s, uses.get(s.name) ?? [])) };
  }

  async get(org: OrgContext, name: string): Promise<SecretView> {
    const [secret, servers] = await Promise.all([this.repo.find(org.id, name), this.repo.servers(org.id)]);
    if (!secret) throw Problem.notFound('Secret');
    return secretView(secret, usageIndex(servers).get(name) ?? []);
  }

  /** Create or replace. `created` tells the controller whether to answer 201 or 200. */
  async put(user: AuthUser, org: OrgContext, name: string, dto: PutSecretDto): Promise<{ created: boolean; secret: SecretView }> {
    // A fresh IV on every write: the same value sealed twice gives two different ciphertexts.
    const sealed = sealSecret(this.env.TOOLGATE_SECRET_KEY, org.id, dto.value);
    return this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      await this.repo.lockOrg(tx, org.id);
      const existing = await this.repo.find(org.id, name, tx);
      const row = existing
        ? await this.repo.replace(tx, org.id, existing.id, { sealed, description: dto.description })
        : await this.repo.create(tx, org.id, { name, sealed, description: dto.description ?? null, createdById: user.id });
      await log({
        action: 'secret.set',
        targetType: 'secret',
        targetId: row.id,
        before: existing ? { name: existing.name, description: existing.description } : undefined,
        after: { name: row.name, description: row.description, replaced: existing !== null },
      });
      const servers = await this.repo.servers(org.id, tx);
      return { created: existing === null, secret: secretView(row, usageIndex(servers).get(name) ?? []) };
    });
  }

  /** Delete a secret no server references; otherwise 409 naming the servers that still do. */
  async remove(user: AuthUser, org: OrgContext, name: string): Promise<void> {
    await this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      await this.repo.lockOrg(tx, org.id);
      const existing = await this.repo.find(org.id, name, tx);
      if (!existing) throw Problem.notFound('Secret');
      const usedBy = usageIndex(await this.repo.servers(org.id, tx)).get(name) ?? [];
      if (usedBy.length > 0) {
        const slugs = usedBy.map((u) => u.slug).join(', ');
        throw new Problem(
          409,
          ErrorCode.Conflict,
          `Secret ${name} is used by ${usedBy.length === 1 ? 'server' : 'servers'} ${slugs}; remove the references first`,
          { usedBy },
        );
      }
      await this.repo.delete(tx, org.id, existing.id);
      await log({
        action: 'secret.deleted',
        targetType: 'secret',
        targetId: existing.id,
        before: { name: existing.name, description: existing.description },
      });
    });
  }
}
