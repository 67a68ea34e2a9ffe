/**
 * The WAL on a real full disk (a tiny tmpfs, test/fixtures/tiny-disk.ts): no answer goes out
 * without its record, so a call whose record does not fit is answered -32008 (`data.ran`: true),
 * and until the disk takes writes again calls are refused before they run (`ran`: false) and the
 * worker reports itself not ready.
 */
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { type AuditEvent, QueueName } from '@toolgate/contracts';
import { createOrg, everythingServer, type Org, queuedEvents, sleep, textOf } from './fixtures/gw-helpers';
import { type TinyDisk, tinyDisk } from './fixtures/tiny-disk';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(60_000);

let disk: TinyDisk;
let stack: Stack;
let o: Org;
let client: Client;

beforeAll(async () => {
  disk = await tinyDisk(512);
  stack = await startStack({ gatewayEnv: { SPOOL_DIR: join(disk.dir, 'spool') } });
  o = await createOrg(stack, { servers: [everythingServer()] });
  client = await connect(`${stack.gatewayUrl}/mcp/${o.org.slug}`, o.key);
});
afterAll(async () => {
  await client?.close().catch(() => undefined);
  await stack?.close();
  await disk?.close();
});

const echo = async (message: string) => textOf(await client.callTool({ name: 'everything__echo', arguments: { message } }));
const readyz = async () => {
  const res = await fetch(`${stack.gatewayUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks?: Record<string, boolean> } };
};

it('a full disk: -32008 for the call that could not be recorded, refusals and 503 readiness while full, service again once there is space; records exactly the successes', async () => {
  const prefix = `disk-${Date.now()}-`;
  const succeeded: string[] = [];
  expect(await echo(`${prefix}before`)).toContain(`${prefix}before`);
  succeeded.push(`${prefix}before`);

  disk.fill();
  // The segment's last page may still take a call or two: the first one that does not fit ran, unrecorded.
  let unrecorded: McpError | null = null;
  let failedMessage = '';
  for (let i = 0; i < 50 && unrecorded === null; i++) {
    const message = `${prefix}full-${i}`;
    try {
      expect(await echo(message)).toContain(message);
      succeeded.push(message);
    } catch (e) {
      if (!(e instanceof McpError)) throw e;
      unrecorded = e;
      failedMessage = message;
    }
  }
  expect(unrecorded?.code).toBe(-32008);
  expect(unrecorded?.data).toMatchObject({ ran: true });

  // While the disk stays full: refused before running, and not ready.
  const refused = await echo(`${prefix}refused`).then(
    () => null,
    (e: unknown) => e,
  );
  expect(refused).toBeInstanceOf(McpError);
  expect((refused as McpError).code).toBe(-32008);
  expect((refused as McpError).data).toMatchObject({ ran: false });
  const notReady = await readyz();
  expect(notReady.status).toBe(503);
  expect(notReady.body.checks?.eventLog).toBe(false);

  disk.free();
  const deadline = Date.now() + 10_000;
  while ((await readyz()).status !== 200) {
    if (Date.now() > deadline) throw new Error('not ready again within 10 s of freeing the disk');
    await sleep(100);
  }
  expect(await echo(`${prefix}after`)).toContain(`${prefix}after`);
  succeeded.push(`${prefix}after`);

  const recorded = async () =>
    (await queuedEvents<AuditEvent>(stack, QueueName.Audit))
      .map((e) => (e.arguments as { message?: unknown } | null)?.message)
      .filter((m): m is string => typeof m === 'string' && m.startsWith(prefix));
  let messages = await recorded();
  for (let i = 0; i < 50 && messages.length < succeeded.length; i++) {
    await sleep(100);
    messages = await recorded();
  }
  await sleep(300); // nothing more arrives
  messages = await recorded();
  expect(messages.sort()).toEqual([...succeeded].sort());
  expect(messages).not.toContain(failedMessage);
  expect(messages).not.toContain(`${prefix}refused`);
});
