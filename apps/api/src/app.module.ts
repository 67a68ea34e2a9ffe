import { type DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { RouteParamsGuard } from './common/route-params.guard';
import { ThrottleInterceptor } from './common/throttle';
import { ENV, type Env } from './config/env';
import { InfraModule } from './infra/infra.module';
import { ActivityModule } from './modules/activity/activity.module';
import { AuthModule } from './modules/auth/auth.module';
import { HealthModule } from './modules/health/health.module';
import { createMetrics, METRICS } from './modules/health/metrics';
import { LiveModule } from './modules/live/live.module';
import { SnapshotsModule } from './modules/snapshots/snapshots.module';
import { DOMAIN_MODULES } from './modules';

@Module({})
export class AppModule {
  static forRoot(env: Env): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [InfraModule, ActivityModule, SnapshotsModule, AuthModule, HealthModule, ...DOMAIN_MODULES, LiveModule],
      providers: [
        { provide: ENV, useValue: env },
        { provide: METRICS, useValue: createMetrics() },
        { provide: APP_GUARD, useClass: RouteParamsGuard },
        { provide: APP_INTERCEPTOR, useClass: ThrottleInterceptor },
      ],
      exports: [ENV, METRICS],
    };
  }
}
