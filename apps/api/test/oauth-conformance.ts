// The official MCP conformance suite's authorization-server scenarios (metadata endpoint,
// authorization code grant) against the API, booted as in the e2e tests on a database of its own.
// The suite prints the authorization URL and waits for its callback: this script plays the
// browser and the person consenting (through the consent API).
//
//   CONFORMANCE=/path/to/@modelcontextprotocol/conformance/dist/index.js NODE22=/path/to/node \
//     node -r @swc-node/register apps/api/test/oauth-conformance.ts      (from apps/api)
//
// The suite's `authorization` command is in 0.2.0-alpha and needs Node 22 (npm `node@22`).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const { prepareTestDatabases, dropTestDatabases, testEnv } = require(`${root}/scripts/test-db.js`);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

async function main() {
  if (!process.env.CONFORMANCE) throw new Error("set CONFORMANCE to the conformance package's dist/index.js");
  const prefix = `tg_test_oauthconf_${process.pid}`;
  await prepareTestDatabases({ prefix, workers: 1 });
  Object.assign(process.env, testEnv(prefix, 1));
  const { startApi } = require(`${root}/apps/api/test/harness`);
  const { team } = require(`${root}/apps/api/src/modules/members/members.fixtures`);
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const api = await startApi({ PUBLIC_API_URL: issuer });
  await api.app.listen(port, '127.0.0.1');
  try {
    const t = await team(api, 'conf');
    const role = await api.prisma.db.role.create({ data: { orgId: t.org.id, name: 'conf', rules: { tools: [] } } });
    const cbPort = await freePort();
    const reg = (await fetch(`${issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'conformance', redirect_uris: [`http://127.0.0.1:${cbPort}/callback`] }),
    }).then((r) => r.json())) as { client_id: string };
    const resource = `${api.env.PUBLIC_GATEWAY_URL}/mcp/${t.org.slug}`;
    const child = spawn(
      process.env.NODE22 ?? process.execPath,
      [
        process.env.CONFORMANCE,
        'authorization',
        '--url',
        issuer,
        '--client-id',
        reg.client_id,
        '--resource',
        resource,
        '-p',
        String(cbPort),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    child.stdout.on('data', async (d: Buffer) => {
      const text = d.toString();
      process.stdout.write(text);
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/authorize\?\S+)$/m.exec(text);
      if (!m) return;
      const res = await fetch(m[1]!, { redirect: 'manual' });
      const requestId = new URL(res.headers.get('location')!).searchParams.get('request')!;
      const ok = (await fetch(`${issuer}/v1/oauth/requests/${requestId}/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...t.owner.auth },
        body: JSON.stringify({ orgId: t.org.id, roleIds: [role.id] }),
      }).then((r) => r.json())) as { redirectTo: string };
      await fetch(ok.redirectTo);
    });
    process.exitCode = (await new Promise<number | null>((r) => child.on('exit', r))) ?? 1;
  } finally {
    await api.close();
    await dropTestDatabases(prefix);
  }
}
main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
