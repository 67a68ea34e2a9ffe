import { hostname } from 'node:os';
import { GATEWAY_STATUS_INTERVAL_MS, type GatewayStatus, redisKeys, type SandboxStatus } from '@toolgate/contracts';
import type Redis from 'ioredis';
import { uuidv7 } from 'uuidv7';

/**
 * Tells the control plane, through Redis, how this worker confines tenant code (the dashboard
 * shows it). Refreshed on a timer; the entry is removed on a clean shutdown and goes stale on a
 * crash (readers skip stale entries).
 */
export class StatusReporter {
  readonly workerId = `${hostname()}-${process.pid}-${uuidv7().slice(-8)}`;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly sandbox: () => SandboxStatus,
  ) {}

  start(): void {
    void this.report();
    this.timer = setInterval(() => void this.report(), GATEWAY_STATUS_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.hdel(redisKeys.gatewayStatus, this.workerId).catch(() => undefined);
  }

  private async report(): Promise<void> {
    const status: GatewayStatus = { schemaVersion: 1, workerId: this.workerId, sandbox: this.sandbox(), at: new Date().toISOString() };
    await this.redis.hset(redisKeys.gatewayStatus, this.workerId, JSON.stringify(status)).catch(() => undefined);
  }
}
