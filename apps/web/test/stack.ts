import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const repo = path.resolve(__dirname, '../../..');

/** The whole product as separate processes, the way `bash scripts/up.sh` runs it. */
export interface FullStack {
  apiUrl: string;
  gatewayUrl: string;
  webUrl: string;
  /** Everything each process printed, for a failing test's message. */
  logs(): string;
  close(): Promise<void>;
}

export const uniq = (base: string) => `${base}-${randomBytes(4).toString('hex')}`;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string, proc: ChildProcess, name: string, timeoutMs: number, logs: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}\n${logs()}`);
    try {
      const res = await fetch(url, { redirect: 'manual' });
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} did not come up at ${url} within ${timeoutMs} ms\n${logs()}`);
}

/** Starts API, worker, gateway and dashboard (already built) on free ports against the test DB. */
export async function startFullStack(extraEnv: Record<string, string> = {}): Promise<FullStack> {
  const [apiPort, gwPort, webPort] = [await freePort(), await freePort(), await freePort()];
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const gatewayUrl = `http://127.0.0.1:${gwPort}`;
  const webUrl = `http://127.0.0.1:${webPort}`;
  const queuePrefix = uniq('tgweb');
  const spool = mkdtempSync(path.join(tmpdir(), `${queuePrefix}-`));
  mkdirSync(spool, { recursive: true });
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    API_PORT: String(apiPort),
    GATEWAY_PORT: String(gwPort),
    WEB_PORT: String(webPort),
    PORT: '',
    QUEUE_PREFIX: queuePrefix,
    SPOOL_DIR: spool,
    PUBLIC_API_URL: apiUrl,
    PUBLIC_GATEWAY_URL: gatewayUrl,
    PUBLIC_WEB_URL: webUrl,
    TOOLGATE_API_URL: apiUrl,
    CORS_ORIGINS: webUrl,
    NEXT_TELEMETRY_DISABLED: '1',
    ...extraEnv,
  };
  delete env.PORT;
  const out: string[] = [];
  const procs: { name: string; proc: ChildProcess }[] = [];
  const run = (name: string, cwd: string, args: string[]) => {
    const proc = spawn(process.execPath, args, { cwd: path.join(repo, cwd), env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const keep = (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) out.push(`[${name}] ${line}`);
      if (out.length > 2000) out.splice(0, out.length - 2000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    procs.push({ name, proc });
    return proc;
  };
  const logs = () => out.slice(-200).join('\n');
  const close = async () => {
    await Promise.all(
      procs.map(
        ({ proc }) =>
          new Promise<void>((resolve) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
            const timer = setTimeout(() => {
              try {
                process.kill(-proc.pid!, 'SIGKILL');
              } catch {
                // already gone
              }
            }, 5000);
            proc.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            try {
              process.kill(-proc.pid!, 'SIGTERM');
            } catch {
              clearTimeout(timer);
              resolve();
            }
          }),
      ),
    );
  };
  try {
    const api = run('api', 'apps/api', ['-r', '@swc-node/register', 'src/main.ts']);
    run('worker', 'apps/api', ['-r', '@swc-node/register', 'src/worker.ts']);
    const gw = run('gateway', 'apps/gateway', ['-r', '@swc-node/register', 'src/main.ts']);
    const web = run('web', 'apps/web', [
      path.join(repo, 'apps/web/node_modules/next/dist/bin/next'),
      'start',
      '-H',
      '127.0.0.1',
      '-p',
      String(webPort),
    ]);
    await waitFor(`${apiUrl}/healthz`, api, 'api', 60_000, logs);
    await waitFor(`${gatewayUrl}/healthz`, gw, 'gateway', 60_000, logs);
    await waitFor(`${webUrl}/login`, web, 'web', 60_000, logs);
  } catch (e) {
    await close();
    throw e;
  }
  return { apiUrl, gatewayUrl, webUrl, logs, close };
}
