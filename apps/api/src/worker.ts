import 'reflect-metadata';
import { type INestApplicationContext, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { nestLogger } from './common/json-log';
import { type Env, loadEnv } from './config/env';
import { serveWorkerHealth } from './worker-health';
import { WorkerModule } from './worker.module';

/**
 * Starts the queue consumers (see WorkerModule). Stops cleanly on SIGTERM/SIGINT: the consumers
 * stop fetching, finish what they hold and close their connections.
 */
export async function startWorker(env: Env, opts: { logger?: boolean } = {}): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(env), {
    logger: opts.logger === false ? false : nestLogger(env.LOG_LEVEL),
  });
  app.enableShutdownHooks();
  await app.init();
  return app;
}

async function main(): Promise<void> {
  const env = loadEnv();
  const app = await startWorker(env);
  const logger = new Logger('Toolgate');
  logger.log(`Worker consuming queues (prefix "${env.QUEUE_PREFIX}")`);
  if (env.WORKER_HEALTH_PORT) {
    await serveWorkerHealth(app, env.HOST, env.WORKER_HEALTH_PORT);
    logger.log(`Worker probes on http://${env.HOST}:${env.WORKER_HEALTH_PORT}/healthz and /readyz`);
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
