import type { NestExpressApplication } from '@nestjs/platform-express';
import { securityTxt } from '@toolgate/contracts';
import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import type { Env } from '../config/env';

/**
 * The API's edge: helmet's headers (nosniff, frame-ancestors 'none' and X-Frame-Options DENY,
 * no referrer, a self-only CSP that Swagger UI at /docs lives with), HSTS on TLS requests only
 * (`req.secure` believes X-Forwarded-Proto from the trusted loopback proxy), and RFC 9116
 * security.txt from SECURITY_CONTACT.
 */
export function applyEdge(app: NestExpressApplication, env: Env): void {
  app.use(
    helmet({
      // helmet's upgrade-insecure-requests would break /docs on a plain-HTTP API (local, behind a TLS proxy it is moot).
      contentSecurityPolicy: { directives: { 'frame-ancestors': ["'none'"], 'upgrade-insecure-requests': null } },
      xFrameOptions: { action: 'deny' },
      referrerPolicy: { policy: 'no-referrer' },
      strictTransportSecurity: false,
    }),
  );
  const hsts = `max-age=${env.HSTS_MAX_AGE_SECONDS}; includeSubDomains`;
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (env.HSTS === 'on' || (env.HSTS === 'auto' && req.secure)) res.setHeader('Strict-Transport-Security', hsts);
    next();
  });
  const canonical = `${env.PUBLIC_API_URL.replace(/\/+$/, '')}/.well-known/security.txt`;
  app.use('/.well-known/security.txt', (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const body = securityTxt({ contact: env.SECURITY_CONTACT, expires: env.SECURITY_TXT_EXPIRES, canonical });
    res.type('text/plain; charset=utf-8');
    if (body === null) res.status(404).send('No security contact is configured (SECURITY_CONTACT).\n');
    else res.set('Cache-Control', 'max-age=86400').send(body);
  });
}
