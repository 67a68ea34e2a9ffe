import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { bootstrap } from '../src/app';
import { type Env, loadEnv } from '../src/config/env';
import { PrismaService } from '../src/infra/prisma.service';
import { RedisService } from '../src/infra/redis.service';

/** A booted API (same bootstrap() as production) on the worker's own database. */
export interface Api {
  app: INestApplication;
  env: Env;
  http: ReturnType<INestApplication['getHttpServer']>;
  req: () => TestAgent;
  prisma: PrismaService;
  redis: RedisService;
  close: () => Promise<void>;
}

export async function startApi(overrides: Partial<Record<keyof Env, string>> = {}): Promise<Api> {
  const env = loadEnv({ ...process.env, ...overrides });
  const app = await bootstrap(env, { logger: false });
  await app.init();
  const http = app.getHttpServer();
  return {
    app,
    env,
    http,
    req: () => request(http),
    prisma: app.get(PrismaService),
    redis: app.get(RedisService),
    close: () => app.close(),
  };
}

/** A short random suffix so tests sharing a worker database never collide. */
export const uniq = (base: string) => `${base}-${randomBytes(4).toString('hex')}`;

export interface TestUser {
  id: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  auth: { Authorization: string };
}

export async function signup(api: Api, name = 'user'): Promise<TestUser> {
  const email = `${uniq(name)}@example.test`;
  const password = 'correct horse battery staple';
  const res = await api.req().post('/v1/auth/signup').send({ email, password, name }).expect(201);
  return {
    id: res.body.user.id,
    email,
    password,
    accessToken: res.body.accessToken,
    refreshToken: res.body.refreshToken,
    auth: { Authorization: `Bearer ${res.body.accessToken}` },
  };
}

export async function createOrg(api: Api, owner: TestUser, slug = uniq('org')): Promise<{ id: string; slug: string }> {
  const res = await api
    .req()
    .post('/v1/orgs')
    .set(owner.auth)
    .send({ name: `Org ${slug}`, slug })
    .expect(201);
  return { id: res.body.id, slug: res.body.slug };
}

/** Expect an RFC 9457 problem body with the given status and code. */
export function expectProblem(res: request.Response, status: number, code?: string): void {
  expect({ status: res.status, type: res.headers['content-type'] }).toEqual({
    status,
    type: expect.stringContaining('application/problem+json'),
  });
  expect(res.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String), type: expect.any(String) });
  if (code) expect(res.body.code).toBe(code);
}
