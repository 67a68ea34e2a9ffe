import { type AddressInfo, createServer } from 'node:net';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { randomBytes } from 'node:crypto';
import { bootstrap } from '../../api/src/app';
import { loadEnv } from '../../api/src/config/env';
import { loadGatewayConfig } from '../src/config';
import { createGateway, type Gateway } from '../src/gateway';

/** The real control plane and a real gateway worker, both in this process, on loopback. */
export interface Stack {
  api: Awaited<ReturnType<typeof bootstrap>>;
  apiUrl: string;
  gateways: Gateway[];
  gatewayUrl: string;
  queuePrefix: string;
  /** The Redis of the whole stack (the test's own, or the worker's shared one). */
  redisUrl: string;
  /** One more gateway worker on the same Redis and queues (closed with the stack). */
  addGateway(): Promise<Gateway>;
  /** Stop the control plane alone; the gateways keep running. */
  stopApi(): Promise<void>;
  /** Start the control plane again on the same database and Redis (apiUrl changes). */
  restartApi(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP port that was free a moment ago (for a gateway whose public URL must name its port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export const uniq = (base: string) => `${base}-${randomBytes(4).toString('hex')}`;

/**
 * The real control plane alone, listening on loopback on a free port (a Stack starts one; tests
 * may add others). `ownIssuer`: its PUBLIC_API_URL is the URL it is reached at, for clients that
 * follow the OAuth metadata and check the issuer (RFC 8414 §3.3). The port must be known before
 * the app is built, so one another process took in between is tried again with a fresh one.
 */
export async function startApi(
  apiEnv: Record<string, string> = {},
  opts: { ownIssuer?: boolean } = {},
): Promise<{ api: Stack['api']; apiUrl: string }> {
  for (let attempt = 1; ; attempt++) {
    const port = opts.ownIssuer ? await freePort() : 0;
    const own = opts.ownIssuer ? { PORT: String(port), PUBLIC_API_URL: `http://127.0.0.1:${port}` } : {};
    const api = await bootstrap(loadEnv({ ...process.env, PORT: '0', ...apiEnv, ...own }), { logger: false });
    try {
      await api.listen(port, '127.0.0.1');
    } catch (e) {
      await api.close();
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 5) continue;
      throw e;
    }
    return { api, apiUrl: `http://127.0.0.1:${(api.getHttpServer().address() as AddressInfo).port}` };
  }
}

export async function startStack(
  opts: {
    gateways?: number;
    gatewayEnv?: Record<string, string>;
    apiEnv?: Record<string, string>;
    /** The API states the URL it is reached at as its issuer (see startApi). */
    apiOwnIssuer?: boolean;
    /** A Redis of the test's own (see fixtures/redis-server.ts) for the API and every gateway. */
    redisUrl?: string;
  } = {},
): Promise<Stack> {
  const redisEnv: Record<string, string> = opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {};
  const apiEnv = { ...redisEnv, ...opts.apiEnv };
  const queuePrefix = uniq('tgtest');
  let apiRunning = true;
  const stack: Stack = {
    ...(await startApi(apiEnv, { ownIssuer: opts.apiOwnIssuer })),
    gateways: [],
    gatewayUrl: '',
    queuePrefix,
    redisUrl: opts.redisUrl ?? process.env.REDIS_URL!,
    addGateway: async () => {
      const i = stack.gateways.length;
      const gw = await createGateway(
        loadGatewayConfig({
          ...process.env,
          PORT: '0',
          QUEUE_PREFIX: queuePrefix,
          SPOOL_DIR: path.join(require('node:os').tmpdir(), `${queuePrefix}-${i}`),
          PUBLIC_API_URL: stack.apiUrl,
          ...redisEnv,
          ...opts.gatewayEnv,
        }),
      );
      const { url } = await gw.listen();
      stack.gatewayUrl ||= url;
      stack.gateways.push(gw);
      return gw;
    },
    stopApi: async () => {
      apiRunning = false;
      await stack.api.close();
    },
    restartApi: async () => {
      if (apiRunning) await stack.stopApi();
      Object.assign(stack, await startApi(apiEnv, { ownIssuer: opts.apiOwnIssuer }));
      apiRunning = true;
    },
    close: async () => {
      for (const g of stack.gateways) await g.close();
      if (apiRunning) await stack.api.close();
    },
  };
  for (let i = 0; i < (opts.gateways ?? 1); i++) await stack.addGateway();
  return stack;
}

/** A tiny client of the control plane's REST API, as the dashboard or CLI would use it. */
export class ApiClient {
  token = '';
  constructor(private readonly base: string) {}

  // biome-ignore lint/suspicious/noExplicitAny: test client; each test knows the shape it asked for.
  async call<T = any>(method: string, p: string, body?: unknown, expect = [200, 201, 204]): Promise<T> {
    const res = await fetch(`${this.base}${p}`, {
      method,
      headers: { 'Content-Type': 'application/json', ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!expect.includes(res.status)) throw new Error(`${method} ${p} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async signup(): Promise<void> {
    const r = await this.call('POST', '/v1/auth/signup', {
      email: `${uniq('u')}@example.test`,
      password: 'correct horse battery',
      name: 'Tester',
    });
    this.token = r.accessToken;
  }
}

/** Path of server-everything's stdio entry point. */
export const EVERYTHING = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');

/** An org with one stdio server-everything, a role allowing everything on it, and a key. */
export async function setupOrg(
  stack: Stack,
  opts: { rules?: unknown; servers?: Array<Record<string, unknown>> } = {},
): Promise<{ api: ApiClient; org: { id: string; slug: string }; key: string; keyId: string; roleId: string }> {
  const api = new ApiClient(stack.apiUrl);
  await api.signup();
  const org = await api.call('POST', '/v1/orgs', { name: 'Gateway test', slug: uniq('gw') });
  const servers = opts.servers ?? [
    { slug: 'everything', name: 'Everything', transport: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'] },
  ];
  for (const s of servers) await api.call('POST', `/v1/orgs/${org.slug}/servers`, s);
  const role = await api.call('POST', `/v1/orgs/${org.slug}/roles`, {
    name: 'agents',
    rules: opts.rules ?? {
      tools: [{ effect: 'allow', match: '*' }],
      prompts: [{ effect: 'allow', match: '*' }],
      resources: [{ effect: 'allow', uri: '*' }],
    },
  });
  const key = await api.call('POST', `/v1/orgs/${org.slug}/keys`, { name: 'agent', roleIds: [role.id] });
  return { api, org, key: key.key, keyId: key.id ?? key.apiKey?.id, roleId: role.id };
}

export async function connect(
  url: string,
  key: string,
  opts: { transport?: 'http' | 'sse'; capabilities?: Record<string, unknown> } = {},
): Promise<Client> {
  const client = new Client({ name: 'toolgate-e2e', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  const headers = { Authorization: `Bearer ${key}` };
  const transport =
    opts.transport === 'sse'
      ? new SSEClientTransport(new URL(url), {
          requestInit: { headers },
          eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers as object), ...headers } }) },
        })
      : new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return client;
}
