import { parseArgs } from 'node:util';
import { EXIT } from '../exit-codes';
import { cliLogger } from '../gateway/logs';
import { runStdioRelay } from '../relay/stdio-relay';
import { keyFileWarning, resolveKey } from './key';

export const CONNECT_USAGE = 'toolgate connect ENDPOINT [--key-env NAME] [--retry-for SECONDS] [--json-logs]';

/**
 * `toolgate connect ENDPOINT`: a desktop host's stdio MCP server that relays to a remote Toolgate
 * endpoint. Resolves with the exit code once the host closed stdin (0), or at once for bad usage (2).
 */
export async function connect(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseConnectArgs>;
  try {
    parsed = parseConnectArgs(args);
  } catch (e) {
    return usage(`${(e as Error).message}\nusage: ${CONNECT_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) return usage(`usage: ${CONNECT_USAGE}`);
  const endpoint = positionals[0]!;
  const problem = endpointProblem(endpoint);
  if (problem) return usage(problem);
  const retryFor = Number(values['retry-for']);
  if (!Number.isFinite(retryFor) || retryFor < 0) return usage('--retry-for must be a number of seconds');
  const key = resolveKey(endpoint, values['key-env']);
  if ('problem' in key) return usage(key.problem);
  const log = cliLogger(values['json-logs']!);
  const warning = keyFileWarning(key.from);
  if (warning) log.warn(`connect: ${warning}`);
  // stdout is the host's MCP channel: everything else goes to stderr.
  const relay = await runStdioRelay(endpoint, key.key, log, { reconnectWindowMs: retryFor * 1000 });
  log.info(`connect: relaying stdio to ${endpoint} with the key from ${key.from}`);
  // A host that stops its servers with a signal instead of closing stdin: the session ends all the same.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void relay.close());
  await relay.closed;
  return EXIT.ok;
}

function parseConnectArgs(args: string[]) {
  return parseArgs({
    args,
    options: {
      'key-env': { type: 'string' },
      'retry-for': { type: 'string', default: '10' },
      'json-logs': { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
}

/** What is wrong with the endpoint URL, or nothing. Plain HTTP only on loopback: the key would cross the network in clear. */
export function endpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `"${endpoint}" is not a URL (e.g. https://gateway.example.com/mcp/acme)`;
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol !== 'http:') return `${endpoint}: the endpoint must be an https:// (or loopback http://) URL`;
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\./.test(url.hostname);
  return loopback ? undefined : `${endpoint}: plain http would send the key in clear; use https:// (http:// only for loopback)`;
}

function usage(message: string): number {
  process.stderr.write(`toolgate connect: ${message}\n`);
  return EXIT.usage;
}
