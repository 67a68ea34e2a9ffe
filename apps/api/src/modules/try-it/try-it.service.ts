import { Inject, Injectable } from '@nestjs/common';
import { generateAgentKey, TRY_IT_KEY_TTL_SECONDS, type TryItAs, type TryItResult } from '@toolgate/contracts';
import type { AuthUser, OrgContext } from '../../common/auth';
import { ErrorCode, Problem } from '../../common/problem';
import { ENV, type Env } from '../../config/env';
import { OrgChangeService } from '../snapshots/org-change.service';
import { callTool, GatewayRefusedKey, GatewayUnknownServer, GatewayUnreachable, type RpcAnswer } from './gateway-call';
import type { TryItInput } from './try-it.dto';
import { TryItRepository } from './try-it.repository';

/** A new key is served once the gateway has the snapshot that adds it (a pub/sub notice away): retry a 401 this long. */
const KEY_PROPAGATION_MS = 3000;
/** How long to wait for the audit worker to store the call's entry before answering without it. */
const AUDIT_WAIT_MS = 5000;
/** Beyond the server's own call timeout, time for the session set-up and the gateway's answer. */
const CALL_MARGIN_MS = 15_000;
/** Gateway codes for "the MCP server did not answer" (apps/gateway core/jsonrpc.ts RpcCode). */
const UPSTREAM_DOWN = new Set([-32005, -32006]);
const DENIED = -32003;

interface Principal {
  roleIds: string[];
  metadata: Record<string, unknown>;
  /** Who the call is made as, for the key's name. */
  label: string;
}

/**
 * Try it (design in @toolgate/contracts try-it.ts): a real call through the gateway as a
 * short-lived `try_it` key, minted for this one call and revoked before the answer. The key's
 * name and the activity entry name the person who clicked; the audit entry of the call is found
 * by the key, which made no other call.
 */
@Injectable()
export class TryItService {
  constructor(
    private readonly repo: TryItRepository,
    private readonly changes: OrgChangeService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async run(user: AuthUser, org: OrgContext, serverId: string, input: TryItInput): Promise<TryItResult> {
    const server = await this.repo.server(org.id, serverId);
    if (!server) throw Problem.notFound('Server');
    if (!server.catalog) throw Problem.conflict('This server has no catalogue yet: probe it first');
    if (!server.catalog.tools.some((t) => t.name === input.tool)) {
      throw Problem.validation([{ path: 'tool', message: `"${input.tool}" is not a tool of this server (as of its last probe)` }]);
    }
    if (!server.enabled) throw Problem.conflict('This server is disabled: enable it to call its tools');
    const who = await this.principal(org.id, input.as);

    const secret = generateAgentKey();
    const mintedAt = new Date();
    const key = await this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      const created = await this.repo.createKey(tx, org.id, {
        name: `Try it as ${who.label}, by ${user.email}`.slice(0, 120),
        prefix: secret.prefix,
        hash: secret.hash,
        roleIds: who.roleIds,
        metadata: who.metadata,
        expiresAt: new Date(mintedAt.getTime() + TRY_IT_KEY_TTL_SECONDS * 1000),
        createdById: user.id,
      });
      await log({
        action: 'server.tried',
        targetType: 'server',
        targetId: server.id,
        after: { tool: input.tool, as: input.as, keyId: created.id, keyName: created.name },
      });
      return created;
    });

    const started = Date.now();
    let answer: RpcAnswer;
    try {
      answer = await this.callWhenServed({
        endpoint: `${this.env.PUBLIC_GATEWAY_URL.replace(/\/+$/, '')}/mcp/${org.slug}/${server.slug}`,
        key: secret.key,
        tool: input.tool,
        arguments: input.arguments,
        signal: AbortSignal.timeout(server.timeoutMs + CALL_MARGIN_MS),
      });
    } catch (e) {
      throw gatewayProblem(e);
    } finally {
      // Revoked whatever happened: the key served this call and nothing else (it also expires on its own).
      await this.changes.run(org.id, user.id, { affectsDataPlane: true }, (tx) => this.repo.revoke(tx, org.id, key.id, new Date()));
    }
    const latencyMs = Date.now() - started;
    const audit = await this.awaitAudit(org.id, key.id, mintedAt);

    if ('error' in answer && UPSTREAM_DOWN.has(answer.error.code)) {
      throw new Problem(502, ErrorCode.UpstreamUnavailable, `The server "${server.slug}" did not answer: ${answer.error.message}`, {
        auditId: audit?.id ?? null,
      });
    }
    const data = 'error' in answer ? asRecord(answer.error.data) : {};
    const denied = 'error' in answer && answer.error.code === DENIED;
    return {
      server: { id: server.id, slug: server.slug },
      tool: input.tool,
      arguments: input.arguments,
      outcome: 'result' in answer ? 'ok' : denied ? 'denied' : 'error',
      decision: audit ? (audit.decision as TryItResult['decision']) : 'result' in answer ? 'allow' : denied ? 'deny' : null,
      rule: audit?.rule ?? (typeof data.rule === 'string' ? data.rule : null),
      reason: denied && typeof data.reason === 'string' ? data.reason : null,
      result: 'result' in answer ? answer.result : null,
      error: 'error' in answer ? answer.error : null,
      audit: audit ? { id: audit.id, seq: Number(audit.seq) } : null,
      credential: { keyId: key.id, name: key.name, prefix: key.prefix },
      latencyMs,
    };
  }

  /** The roles and metadata the gateway decides on: a role's alone, or an existing key's (so the decision is that key's). */
  private async principal(orgId: string, as: TryItAs): Promise<Principal> {
    if (as.kind === 'role') {
      const role = await this.repo.role(orgId, as.roleId);
      if (!role) throw Problem.validation([{ path: 'as.roleId', message: 'no such role in this organization' }]);
      return { roleIds: [role.id], metadata: {}, label: `role ${role.name}` };
    }
    const k = await this.repo.activeAgentKey(orgId, as.keyId, new Date());
    if (!k) throw Problem.validation([{ path: 'as.keyId', message: 'no active agent key with this id in this organization' }]);
    return { roleIds: k.roles.map((r) => r.roleId), metadata: asRecord(k.metadata), label: `key ${k.name}` };
  }

  private async callWhenServed(call: Parameters<typeof callTool>[0]): Promise<RpcAnswer> {
    const until = Date.now() + KEY_PROPAGATION_MS;
    for (;;) {
      try {
        return await callTool(call);
      } catch (e) {
        if (!(e instanceof GatewayRefusedKey) || Date.now() >= until) throw e;
        await sleep(100);
      }
    }
  }

  private async awaitAudit(orgId: string, keyId: string, mintedAt: Date) {
    // Gateway and API clocks may differ a little.
    const since = new Date(mintedAt.getTime() - 60_000);
    const until = Date.now() + AUDIT_WAIT_MS;
    for (;;) {
      const entry = await this.repo.auditEntry(orgId, keyId, since);
      if (entry || Date.now() >= until) return entry;
      await sleep(150);
    }
  }
}

function gatewayProblem(e: unknown): unknown {
  if (e instanceof GatewayUnreachable) return new Problem(503, ErrorCode.GatewayUnavailable, `Could not call the tool: ${e.message}`);
  if (e instanceof GatewayRefusedKey) {
    return new Problem(
      503,
      ErrorCode.GatewayUnavailable,
      `The gateway did not accept the temporary key within ${KEY_PROPAGATION_MS / 1000} s (has it loaded the latest policy snapshot?); try again`,
    );
  }
  if (e instanceof GatewayUnknownServer)
    return Problem.conflict('The gateway does not serve this server right now (just changed?); try again');
  if (e instanceof DOMException && e.name === 'TimeoutError') {
    return new Problem(504, ErrorCode.UpstreamUnavailable, "The call took longer than the server's timeout allows");
  }
  return e;
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
