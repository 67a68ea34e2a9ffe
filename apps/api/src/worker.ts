import 'reflect-metadata';
import { type INestApplicationContext, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type Env, loadEnv } from './config/env';
import { WorkerModule } from './worker.module';

/**
 * Starts the queue consumers (see WorkerModule). Stops cleanly on SIGTERM/SIGINT: the consumers
 * stop fetching, finish what they hold and close their connections.
 */
export async function startWorker(env: Env, opts: { logger?: boolean } = {}): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(env), {
    logger: opts.logger === false ? false : ['log', 'warn', 'error'],
  });
  app.enableShutdownHooks();
  await app.init();
  return app;
}

async function main(): Promise<void> {
  const env = loadEnv();
  await startWorker(env);
  new Logger('Toolgate').log(`Worker consuming queues (prefix "${env.QUEUE_PREFIX}")`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
