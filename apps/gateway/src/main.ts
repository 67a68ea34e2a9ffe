import { loadGatewayConfig } from './config';
import { startTracing } from './tracing';

async function main(): Promise<void> {
  const config = loadGatewayConfig();
  // Tracing patches node:http and undici, so it starts before the gateway modules load.
  const tracing = startTracing(config);
  const { createGateway } = await import('./gateway');
  const gateway = await createGateway(config);
  const { url } = await gateway.listen();
  console.log(`gateway listening on ${url}`);
  const shutdown = async (signal: string) => {
    console.log(`gateway: ${signal}, draining (calls in flight get ${config.SHUTDOWN_GRACE_MS} ms)`);
    // close() keeps to the grace period; this is the backstop should anything hang.
    setTimeout(() => process.exit(1), config.SHUTDOWN_GRACE_MS + 5000).unref();
    await gateway.close();
    await tracing?.shutdown();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
