import 'reflect-metadata';
import { Logger, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { WsAdapter } from '@nestjs/platform-ws';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import express, { type NextFunction, type Request, type Response } from 'express';
import { AppModule } from './app.module';
import type { AuthedRequest } from './common/auth';
import { applyEdge } from './common/edge';
import { createJsonLogger, nestLogger, traceFields } from './common/json-log';
import { ProblemFilter } from './common/problem.filter';
import type { Env } from './config/env';
import { STRIPE_WEBHOOK_PATH } from './modules/billing/stripe-webhook.controller';
import { OAUTH_CORS_PATHS } from './modules/oauth/oauth.config';
import { type ApiMetrics, METRICS } from './modules/health/metrics';

/**
 * Builds the API exactly as production runs it; e2e tests call this too.
 */
export async function bootstrap(env: Env, opts: { logger?: boolean } = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(env), {
    bodyParser: false,
    logger: opts.logger === false ? false : nestLogger(env.LOG_LEVEL),
  });
  app.set('trust proxy', 'loopback');
  app.disable('x-powered-by');
  applyEdge(app, env);
  // Browser-based MCP clients discover, register and redeem codes from their own origins. These
  // endpoints read no cookies (credentials are in the body or Authorization), so any origin may call them.
  app.use(OAUTH_CORS_PATHS, (req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (req.method !== 'OPTIONS') return next();
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, MCP-Protocol-Version');
    res.setHeader('Access-Control-Max-Age', '600');
    res.status(204).end();
  });
  app.enableCors({ origin: env.CORS_ORIGINS.split(',').map((o) => o.trim()), credentials: true });
  app.enableShutdownHooks();
  // The live audit gateway (modules/live) shares this HTTP server: `ws`, not socket.io.
  app.useWebSocketAdapter(new WsAdapter(app));

  const metrics = app.get<ApiMetrics>(METRICS);
  const accessLog = createJsonLogger('http', env.LOG_LEVEL);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const trace = traceFields(req.headers.traceparent);
    res.setHeader('X-Request-Id', 'traceId' in trace ? trace.traceId : trace.requestId);
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.requests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.latency.observe({ method: req.method, route }, seconds);
      if (!accessLog.enabled('info')) return;
      // Ids only: no query string (it may carry a token), no headers, no body.
      const { user, org } = req as Partial<AuthedRequest>;
      accessLog.log('info', 'request', {
        method: req.method,
        route,
        status: res.statusCode,
        outcome: res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'refused' : 'ok',
        latencyMs: Math.round(seconds * 1e6) / 1e3,
        ...(org ? { org: org.slug, orgId: org.id } : typeof req.params?.org === 'string' ? { org: req.params.org } : {}),
        ...(user?.id ? { userId: user.id } : {}),
        ...trace,
      });
    });
    next();
  });
  // Stripe signs the exact bytes it sends: its webhook keeps the raw body (a Buffer), and the JSON
  // parser below then skips the already-read request.
  app.use(STRIPE_WEBHOOK_PATH, express.raw({ limit: env.BODY_LIMIT_BYTES, type: () => true }));
  // The OAuth token and revocation endpoints take form bodies (RFC 6749 §4.1.3, RFC 7009 §2.1).
  app.use(['/token', '/revoke'], express.urlencoded({ limit: '16kb', extended: false }));
  // Strict JSON (objects and arrays only) with a size cap; errors become problem JSON.
  app.use(express.json({ limit: env.BODY_LIMIT_BYTES, strict: true, type: ['application/json', 'application/*+json'] }));
  app.useGlobalFilters(new ProblemFilter());

  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Toolgate control plane')
      .setDescription(
        'Organisations, members, agent keys, MCP servers, secrets, roles and policy snapshots; the OAuth 2.1 authorization server for agents (/authorize, /token, /register, /revoke).',
      )
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, doc, { jsonDocumentUrl: 'docs/openapi.json' });
  return app;
}

export async function listen(app: INestApplication, env: Env): Promise<void> {
  await app.listen(env.PORT, env.HOST);
  new Logger('Toolgate').log(`API listening on http://${env.HOST}:${env.PORT} (OpenAPI at /docs)`);
}
