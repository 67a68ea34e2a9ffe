#!/usr/bin/env node
// Writes fresh secrets where none are set yet, keeping every value already there:
//   node scripts/secrets.mjs                  .env (pnpm start, docker compose)
//   node scripts/secrets.mjs --k8s-dev [FILE] infra/k8s/overlays/dev/secrets.env
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hex = () => randomBytes(32).toString('hex');

/** Sets `KEY=value` for each key whose line is missing or empty in `text`; returns the new text and the keys set. */
export function fillSecrets(text, values) {
  let out = text;
  const set = [];
  for (const [key, value] of Object.entries(values)) {
    const line = new RegExp(`^${key}=(.*)$`, 'm');
    const m = line.exec(out);
    if (m && m[1].trim() !== '') continue;
    out = m ? out.replace(line, `${key}=${value}`) : `${out.replace(/\n?$/, '\n')}${key}=${value}\n`;
    set.push(key);
  }
  return { text: out, set };
}

/** .env for `pnpm start` and `docker compose` (POSTGRES_PASSWORD is compose's database password). */
export function writeDotEnv(file = path.join(root, '.env')) {
  const base = existsSync(file) ? readFileSync(file, 'utf8') : readFileSync(path.join(root, '.env.example'), 'utf8');
  const { text, set } = fillSecrets(base, {
    JWT_SECRET: hex(),
    TOOLGATE_SECRET_KEY: hex(),
    POSTGRES_PASSWORD: hex(),
  });
  if (set.length > 0 || !existsSync(file)) writeFileSync(file, text, { mode: 0o600 });
  return set;
}

/** secrets.env of the Kubernetes dev overlay (its Postgres password also inside DATABASE_URL). */
export function writeK8sDevSecrets(file = path.join(root, 'infra/k8s/overlays/dev/secrets.env')) {
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const password = /^POSTGRES_PASSWORD=(.+)$/m.exec(existing)?.[1] ?? hex();
  const { text, set } = fillSecrets(existing, {
    POSTGRES_PASSWORD: password,
    DATABASE_URL: `postgresql://toolgate:${password}@toolgate-postgres:5432/toolgate`,
    REDIS_URL: 'redis://toolgate-redis:6379',
    JWT_SECRET: hex(),
    TOOLGATE_SECRET_KEY: hex(),
    OPERATOR_TOKEN: hex(),
  });
  writeFileSync(file, text, { mode: 0o600 });
  return set;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--k8s-dev');
  const [file, set] = i >= 0 ? [process.argv[i + 1], writeK8sDevSecrets(process.argv[i + 1])] : [undefined, writeDotEnv()];
  const where = file ?? (i >= 0 ? 'infra/k8s/overlays/dev/secrets.env' : '.env');
  console.log(set.length ? `${where}: wrote fresh ${set.join(', ')}` : `${where}: every secret already set`);
}
