import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { OAuthRepository } from './oauth.repository';

const INTERVAL_MS = 3_600_000;
/** Expired codes and requests are kept a day, so a late replay of a code still revokes its grant. */
const GRACE_MS = 86_400_000;

/** Hourly removal of expired OAuth requests, codes and refresh tokens (every API instance; deletes are idempotent). */
@Injectable()
export class OAuthPruner implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('OAuthPruner');
  private timer?: NodeJS.Timeout;

  constructor(private readonly repo: OAuthRepository) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.prune().catch((e: Error) => this.logger.warn(`pruning failed: ${e.message}`)), INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  prune(now = new Date()) {
    return this.repo.prune(now, GRACE_MS);
  }
}
