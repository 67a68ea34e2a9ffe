import { parseArgs } from 'node:util';
import { ConfigError } from './config/errors';
import { verifyAuditFile } from './audit/verify';
import { writeStarterConfig } from './init';
import { isManageCommand, MANAGE_HELP, runManage } from './manage';
import { EXIT } from './exit-codes';

const HELP = `toolgate: the Toolgate MCP gateway on one machine

Usage:
  toolgate gateway --config toolgate.yaml [--json-logs] [--port N]
      Serve the servers, roles and keys of the YAML file at http://HOST:PORT/mcp
      (Streamable HTTP; legacy SSE at /sse), with /healthz and /metrics. No database, no Redis.
  toolgate gateway --config toolgate.yaml --stdio --key-env NAME
      Be a desktop host's one stdio MCP server: every call goes through the same policy and
      audit as over HTTP, as the agent whose key is in the environment variable NAME.
  toolgate connect ENDPOINT [--key-env NAME] [--retry-for SECONDS] [--json-logs]
      Be a desktop host's stdio MCP server for a remote Toolgate endpoint (e.g.
      https://gateway.example.com/mcp/acme): relays every message, keeps the session across
      remote restarts, waits up to --retry-for (10) seconds for an unreachable remote. The agent
      key comes from $TOOLGATE_KEY (or $NAME), else from the config file's "agentKeys" (the OS
      config directory, e.g. ~/.config/toolgate/config.json).
  toolgate init [--config toolgate.yaml] [--force]
      Write a commented starter config.
  toolgate audit verify FILE [--json]
      Verify a hash-chained audit file (the gateway's own, or a platform export).

${MANAGE_HELP}
Gateway settings (sandbox, limits, log level) come from the same environment variables as the
platform gateway's, e.g. STDIO_SANDBOX=off to run stdio servers unconfined (not recommended).
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  switch (command) {
    case 'gateway':
      return gateway(rest);
    case 'connect':
      return (await import('./connect/command')).connect(rest);
    case 'init':
      return init(rest);
    case 'audit':
      return rest[0] === 'verify' ? audit(rest) : runManage('audit', rest);
    default:
      if (isManageCommand(command)) return runManage(command, rest);
      process.stderr.write(`toolgate: unknown command "${command}"\n\n${HELP}`);
      return EXIT.usage;
  }
}

async function gateway(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c', default: 'toolgate.yaml' },
      'json-logs': { type: 'boolean', default: false },
      port: { type: 'string' },
      stdio: { type: 'boolean', default: false },
      'key-env': { type: 'string' },
    },
    strict: true,
  });
  let agentKey: string | undefined;
  if (values.stdio) {
    const name = values['key-env'];
    agentKey = name ? process.env[name] : undefined;
    if (!name || !agentKey) {
      process.stderr.write(`toolgate: --stdio needs --key-env NAME, with the agent key in $${name ?? 'NAME'}\n`);
      return EXIT.usage;
    }
  }
  const port = values.stdio ? 0 : values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    process.stderr.write(`toolgate: --port must be a port number\n`);
    return EXIT.usage;
  }
  // The pipeline patches nothing at load, but it is big: load it only for this command.
  const { createStandalone } = await import('./gateway/standalone');
  let gw: Awaited<ReturnType<typeof createStandalone>>;
  try {
    gw = await createStandalone({ configFile: values.config!, env: process.env, jsonLogs: values['json-logs']!, port });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`toolgate: invalid config\n${e.message}\n`);
      return EXIT.usage;
    }
    throw e;
  }
  const { url, endpoint } = await gw.listen();
  const stop = async (why: string) => {
    gw.log.info(`gateway: ${why}, stopping`);
    await gw.close();
    process.exit(EXIT.ok);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  if (agentKey !== undefined) {
    const { runStdioRelay } = await import('./relay/stdio-relay');
    const front = await runStdioRelay(endpoint, agentKey, gw.log);
    gw.log.info('gateway: serving on stdio', { config: gw.current.file });
    await front.closed;
    await stop('stdin closed');
  } else {
    // On stdout whatever the log level: scripts and supervisors wait for this line.
    process.stdout.write(`toolgate: listening on ${url}, MCP endpoint ${endpoint}\n`);
  }
  return EXIT.ok;
}

function init(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c', default: 'toolgate.yaml' }, force: { type: 'boolean', default: false } },
    strict: true,
  });
  try {
    writeStarterConfig(values.config!, values.force!);
  } catch (e) {
    process.stderr.write(`toolgate: ${(e as Error).message}\n`);
    return EXIT.usage;
  }
  process.stdout.write(
    `wrote ${values.config}\nnext: export TOOLGATE_KEY=tg_$(openssl rand -hex 24) && toolgate gateway --config ${values.config}\n`,
  );
  return EXIT.ok;
}

function audit(args: string[]): number {
  const [sub, ...rest] = args;
  if (sub !== 'verify') {
    process.stderr.write('toolgate: usage: toolgate audit verify FILE [--json]\n');
    return EXIT.usage;
  }
  const { values, positionals } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } }, allowPositionals: true });
  if (positionals.length !== 1) {
    process.stderr.write('toolgate: usage: toolgate audit verify FILE [--json]\n');
    return EXIT.usage;
  }
  const file = positionals[0]!;
  let r: ReturnType<typeof verifyAuditFile>;
  try {
    r = verifyAuditFile(file);
  } catch (e) {
    process.stderr.write(`toolgate: ${(e as Error).message}\n`);
    return EXIT.usage;
  }
  if (values.json) process.stdout.write(`${JSON.stringify({ file, ...r })}\n`);
  else if (r.valid) process.stdout.write(`${file}: valid, ${r.checked} events, head seq ${r.headSeq} ${r.headHash}\n`);
  else
    process.stdout.write(
      `${file}:${r.line}: broken${r.seq === null ? '' : ` at seq ${r.seq}`}: ${r.reason} (${r.checked} events verified before it)\n`,
    );
  return r.valid ? EXIT.ok : EXIT.failed;
}

main(process.argv.slice(2)).then(
  (code) => {
    // A serving gateway keeps the process alive; every other command is done.
    if (code !== EXIT.ok || process.argv[2] !== 'gateway') process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`toolgate: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(EXIT.failed);
  },
);
