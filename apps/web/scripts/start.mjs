#!/usr/bin/env node
// Production start of the dashboard: builds once (again only when the sources changed), then
// runs `next start`. WEB_PORT (or PORT) and WEB_HOST (or HOST) pick the address; the server
// reaches the API at TOOLGATE_API_URL (default PUBLIC_API_URL, then 127.0.0.1:API_PORT).
import { spawn } from 'node:child_process';
import { buildIfStale, nextBin, webRoot } from './build-if-stale.mjs';

buildIfStale();
const port = process.env.WEB_PORT ?? process.env.PORT ?? '3000';
const host = process.env.WEB_HOST ?? process.env.HOST ?? '127.0.0.1';
const child = spawn(process.execPath, [nextBin, 'start', '-H', host, '-p', port], {
  cwd: webRoot,
  env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
  stdio: 'inherit',
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
