/**
 * Every name the aggregated endpoint lists is callable and reaches the upstream tool or prompt it
 * stands for: names that had to be sanitised or hashed (long, dotted, spaced, slashed, non-ASCII,
 * colliding once sanitised, or plain but shaped like a hashed form) included. Through the real
 * stack with the SDK client, against a stdio fixture that registers exactly such names.
 */
import { join } from 'node:path';
import { textOf } from './fixtures/gw-helpers';
import { connect, type Stack, setupOrg, startStack } from './harness';

jest.setTimeout(60_000);

const FIXTURE = join(__dirname, 'fixtures', 'names-server.mjs');
const VALID = /^[a-zA-Z0-9_-]{1,64}$/;

let stack: Stack;
let url: string;
let key: string;
beforeAll(async () => {
  stack = await startStack();
  const o = await setupOrg(stack, {
    servers: [{ slug: 'nm', name: 'NM', transport: 'stdio', command: process.execPath, args: [FIXTURE] }],
  });
  url = `${stack.gatewayUrl}/mcp/${o.org.slug}`;
  key = o.key;
});
afterAll(() => stack.close());

/** The upstream's own names, as the single-server endpoint shows them. */
async function upstreamNames(kind: 'tools' | 'prompts'): Promise<string[]> {
  const direct = await connect(`${url}/nm`, key);
  try {
    return kind === 'tools' ? (await direct.listTools()).tools.map((t) => t.name) : (await direct.listPrompts()).prompts.map((p) => p.name);
  } finally {
    await direct.close();
  }
}

describe('names on the aggregated endpoint', () => {
  it('every listed tool is valid, unique, callable and reaches the tool it stands for', async () => {
    const upstream = await upstreamNames('tools');
    expect(upstream.length).toBeGreaterThanOrEqual(20);
    const client = await connect(url, key);
    try {
      const listed = (await client.listTools()).tools.map((t) => t.name);
      expect(listed).toHaveLength(upstream.length);
      expect(new Set(listed).size).toBe(listed.length);
      for (const name of listed) expect(name).toMatch(VALID);

      const reached: string[] = [];
      for (const name of listed) {
        const result = await client.callTool({ name, arguments: {} });
        expect(result.isError).toBeFalsy();
        reached.push(textOf(result).replace(/^tool:/, ''));
      }
      expect(reached.sort()).toEqual([...upstream].sort());
    } finally {
      await client.close();
    }
  });

  it('every listed prompt is valid, unique and reaches the prompt it stands for', async () => {
    const upstream = await upstreamNames('prompts');
    const client = await connect(url, key);
    try {
      const listed = (await client.listPrompts()).prompts.map((p) => p.name);
      expect(listed).toHaveLength(upstream.length);
      expect(new Set(listed).size).toBe(listed.length);
      for (const name of listed) expect(name).toMatch(VALID);

      const reached: string[] = [];
      for (const name of listed) {
        const got = await client.getPrompt({ name, arguments: {} });
        const content = got.messages[0]?.content;
        reached.push(String(content && 'text' in content ? content.text : '').replace(/^prompt:/, ''));
      }
      expect(reached.sort()).toEqual([...upstream].sort());
    } finally {
      await client.close();
    }
  });

  it('a name that was never listed is refused, not guessed: hashed look-alikes and raw names', async () => {
    const client = await connect(url, key);
    try {
      for (const name of ['nm__dotted_name_00000000', 'nm__dotted.name']) {
        await expect(client.callTool({ name, arguments: {} })).rejects.toMatchObject({ code: -32602 });
      }
    } finally {
      await client.close();
    }
  });
});
