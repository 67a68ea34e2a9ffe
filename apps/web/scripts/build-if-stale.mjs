#!/usr/bin/env node
// `next build` unless .next already holds a build of exactly these sources (a hash stamp).
// Used by the start script and by the browser tests' global setup.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const webRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const nextBin = path.join(webRoot, 'node_modules/next/dist/bin/next');

function sourceHash() {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(`${path.relative(webRoot, p)}:${statSync(p).size}:`).update(readFileSync(p));
    }
  };
  for (const d of ['src', 'public']) if (existsSync(path.join(webRoot, d))) walk(path.join(webRoot, d));
  // The dashboard bundles shapes from the contracts package: a change there needs a rebuild too.
  walk(path.join(webRoot, '../../packages/contracts/src'));
  for (const f of ['next.config.ts', 'package.json']) h.update(readFileSync(path.join(webRoot, f)));
  return h.digest('hex');
}

export function buildIfStale({ stdio = 'inherit' } = {}) {
  const stamp = path.join(webRoot, process.env.NEXT_DIST_DIR ?? '.next', 'toolgate-source-hash');
  const hash = sourceHash();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return false;
  const r = spawnSync(process.execPath, [nextBin, 'build'], {
    cwd: webRoot,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' },
    stdio,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`next build failed (exit ${r.status})${r.stdout ? `\n${r.stdout}\n${r.stderr}` : ''}`);
  writeFileSync(stamp, hash);
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildIfStale();
