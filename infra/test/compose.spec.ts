import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { queuedAfterCrash } from './redis-aof';
import { type ComposeService, expectRunnable, render, root } from './render';

/** A volume's mount point, long form or `name:/target[:mode]`. */
const volumeTarget = (v: string | { target: string }): string => (typeof v === 'string' ? v.split(':')[1] : v.target);

/** `docker-compose config` (Debian's docker-compose) renders and validates docker-compose.yml. */
describe('docker-compose.yml', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tg-compose-'));
  const secrets = {
    POSTGRES_PASSWORD: 'pg-from-env-4f1c',
    JWT_SECRET: 'jwt-from-env-0123456789abcdef0123456789abcdef',
    TOOLGATE_SECRET_KEY: 'a'.repeat(64),
  };
  const envFile = path.join(dir, 'secrets.env');
  const emptyEnv = path.join(dir, 'empty.env');
  writeFileSync(
    envFile,
    Object.entries(secrets)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
  );
  writeFileSync(emptyEnv, '');
  const cleanEnv = { PATH: process.env.PATH, HOME: dir };
  const config = (file: string) =>
    render('docker-compose', ['-f', path.join(root, 'docker-compose.yml'), '--env-file', file, 'config'], { env: cleanEnv });

  const rendered = config(envFile);
  const services: Record<string, ComposeService> = rendered.status === 0 ? parse(rendered.stdout).services : {};
  const product = ['api', 'worker', 'gateway', 'web'];

  it('renders (the file is valid compose)', () => {
    expect(rendered.stderr).not.toMatch(/ERROR/);
    expect(rendered.status).toBe(0);
  });

  it('runs every process of the product, the one-shot migration, Postgres and Redis', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'gateway', 'migrate', 'postgres', 'redis', 'web', 'worker']);
    for (const name of [...product, 'migrate']) expectRunnable(services[name].command);
    expect(services.worker.command).toEqual(['pnpm', '--filter', '@toolgate/api', 'run', 'start:worker']);
    expect(services.web.command).toEqual(['pnpm', '--filter', '@toolgate/web', 'run', 'start']);
    expect(services.migrate.restart).toBe('no');
  });

  it('gives each long-running service a health check on its own port, and publishes the public ones', () => {
    const ports: Record<string, string> = { api: 'API_PORT', worker: 'WORKER_HEALTH_PORT', gateway: 'GATEWAY_PORT', web: 'WEB_PORT' };
    for (const name of product) {
      const test = services[name].healthcheck?.test.join(' ') ?? '';
      expect(test).toContain(`http://127.0.0.1:${services[name].environment[ports[name]]}/`);
    }
    for (const name of ['postgres', 'redis']) expect(services[name].healthcheck?.test.length).toBeGreaterThan(1);
    const published = (name: string) => (services[name].ports ?? []).map((p) => `${p.published}:${p.target}`);
    expect(published('api')).toEqual(['4000:4000']);
    expect(published('gateway')).toEqual(['8080:8080']);
    expect(published('web')).toEqual(['3000:3000']);
    expect(published('postgres')).toEqual([]);
    expect(published('redis')).toEqual([]);
  });

  it('orders start-up on health and on the finished migration', () => {
    const deps = (name: string) => Object.fromEntries(Object.entries(services[name].depends_on ?? {}).map(([k, v]) => [k, v.condition]));
    expect(deps('migrate')).toEqual({ postgres: 'service_healthy' });
    for (const name of ['api', 'worker', 'gateway'])
      expect(deps(name)).toEqual({ migrate: 'service_completed_successfully', redis: 'service_healthy' });
    expect(deps('web')).toEqual({ api: 'service_healthy' });
  });

  it('keeps the queues across a Redis restart: AOF on a volume, no eviction', () => {
    const cmd = services.redis.command.join(' ');
    expect(cmd).toContain('--appendonly yes');
    expect(cmd).toContain('--maxmemory-policy noeviction');
    expect((services.redis.volumes ?? []).map(volumeTarget)).toContain('/data');
  });

  it('runs a Redis whose queued jobs survive it being killed (its own arguments, on this machine)', async () => {
    const [program, ...args] = services.redis.command;
    expect(program).toBe('redis-server');
    expect(await queuedAfterCrash(args)).toBe(100);
    // The same crash without the append-only file loses them: the check above can fail.
    expect(await queuedAfterCrash(['--appendonly', 'no', '--save', ''])).toBe(0);
  });

  it('gives the gateway what the stdio sandbox needs inside a container', () => {
    const gw = services.gateway;
    expect(gw.user).toBe('root');
    expect(gw.cap_add).toEqual(['SYS_ADMIN']);
    expect(gw.security_opt).toEqual(
      expect.arrayContaining(['seccomp=unconfined', 'apparmor=unconfined', 'systempaths=unconfined', 'label=disable']),
    );
    expect(gw.devices).toEqual(['/dev/net/tun:/dev/net/tun']);
    expect((gw.volumes ?? []).map(volumeTarget)).toContain(gw.environment.SPOOL_DIR);
  });

  it('takes every secret from the environment and bakes none in', () => {
    for (const name of [...product, 'migrate']) {
      const env = services[name].environment;
      expect(env.JWT_SECRET).toBe(secrets.JWT_SECRET);
      expect(env.TOOLGATE_SECRET_KEY).toBe(secrets.TOOLGATE_SECRET_KEY);
      expect(env.DATABASE_URL).toBe(`postgresql://toolgate:${secrets.POSTGRES_PASSWORD}@postgres:5432/toolgate`);
      expect(env.REDIS_URL).toBe('redis://redis:6379');
    }
    expect(services.postgres.environment.POSTGRES_PASSWORD).toBe(secrets.POSTGRES_PASSWORD);
    const without = config(emptyEnv);
    expect(without.status).not.toBe(0);
    expect(without.stderr).toMatch(/POSTGRES_PASSWORD|JWT_SECRET|TOOLGATE_SECRET_KEY/);
    // Each required variable is documented where `node scripts/secrets.mjs` fills it from.
    const example = readFileSync(path.join(root, '.env.example'), 'utf8');
    const source = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
    const required = [...source.matchAll(/\$\{([A-Z_]+):\?/g)].map((m) => m[1]);
    expect(new Set(required)).toEqual(new Set(Object.keys(secrets)));
    for (const key of required) expect(example).toMatch(new RegExp(`^${key}=$`, 'm'));
  });
});
