import { Inject, Injectable } from '@nestjs/common';
import { GATEWAY_STATUS_STALE_MS, GatewayStatus, redisKeys } from '@toolgate/contracts';
import { ErrorCode, Problem } from '../../common/problem';
import { ENV, type Env } from '../../config/env';
import { RedisService } from '../../infra/redis.service';
import type { SandboxSummary, SandboxView } from '@toolgate/contracts';

/**
 * Reads what the gateway workers report about their sandbox (the Redis hash
 * `redisKeys.gatewayStatus`, the wire contract between the processes). The gateways own that
 * hash: entries that do not parse or have not been refreshed are skipped here, never deleted.
 */
@Injectable()
export class SandboxService {
  constructor(
    private readonly redis: RedisService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async view(now = Date.now()): Promise<SandboxView> {
    let entries: Record<string, string>;
    try {
      entries = await this.redis.client.hgetall(redisKeys.gatewayStatus);
    } catch {
      throw new Problem(
        503,
        ErrorCode.GatewayStatusUnavailable,
        'The gateways’ sandbox status cannot be read right now (Redis is unreachable)',
      );
    }
    const gateways = Object.values(entries)
      .map(parseStatus)
      .filter((s): s is GatewayStatus => s !== null && now - Date.parse(s.at) <= GATEWAY_STATUS_STALE_MS)
      .sort((a, b) => a.workerId.localeCompare(b.workerId));
    return { allowedCommands: [...this.env.STDIO_ALLOWED_COMMANDS], gateways, summary: summarize(gateways) };
  }
}

function parseStatus(raw: string): GatewayStatus | null {
  try {
    const parsed = GatewayStatus.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Unconfined outranks failing: tenant code running on the bare host is the graver news. */
function summarize(gateways: GatewayStatus[]): SandboxSummary {
  if (gateways.length === 0) return 'no-gateway';
  if (gateways.some((g) => g.sandbox.mode === 'off')) return 'unconfined';
  if (gateways.some((g) => !g.sandbox.ok)) return 'failing';
  return 'confined';
}
