import { existsSync, writeFileSync } from 'node:fs';

/** The starter config `toolgate init` writes: one server, one role, one key from the environment. */
export const STARTER_CONFIG = `# Toolgate standalone gateway: \`toolgate gateway --config toolgate.yaml\`
# Agents connect to http://127.0.0.1:8080/mcp with \`Authorization: Bearer <key>\`.
# Edits are picked up while it runs; an invalid edit is reported and the last good config kept.
version: 1

# The endpoint's name (/mcp and /mcp/<org> both work); audit records carry it.
org: local

listen:
  host: 127.0.0.1
  port: 8080

# Audit: a hash-chained NDJSON file (\`toolgate audit verify toolgate-audit.jsonl\`).
audit:
  file: toolgate-audit.jsonl
# Usage: calls, errors, bytes and time per key, server, tool and hour.
usage:
  file: toolgate-usage.json

# Secret values never go in this file. Reference them: {env: NAME} reads the environment,
# {secret: NAME} reads NAME=value lines from a secrets file named here:
# secretsFile: toolgate.secrets

servers:
  # Tools are named <server>__<tool> on the aggregated endpoint: everything__echo.
  everything:
    transport: stdio              # stdio | streamable-http | sse
    command: npx
    args: ["-y", "@modelcontextprotocol/server-everything"]
    network: egress               # npx downloads the server: it needs the internet (default: none)
    # env:
    #   GITHUB_TOKEN: {env: GITHUB_TOKEN}
  # remote:
  #   transport: streamable-http
  #   url: https://mcp.example.com/mcp
  #   headers:
  #     Authorization: {secret: EXAMPLE_BEARER}

# Roles: the same rule language as the platform's API (default deny).
roles:
  developer:
    tools:
      - {effect: allow, match: "everything__*"}
      - {effect: deny, match: "everything__get-env"}   # it prints the server's environment
    rateLimits:
      - {scope: key, perMinute: 120}

# Agent keys: the key itself stays in the environment (env: NAME), or give its sha256 (hash: ...).
# Generate one: export TOOLGATE_KEY=tg_$(openssl rand -hex 24)
keys:
  laptop:
    roles: [developer]
    env: TOOLGATE_KEY

limits:
  monthlyCallQuota: null          # calls per calendar month, null = unlimited
`;

/** Writes the starter config; refuses to overwrite an existing file unless forced. */
export function writeStarterConfig(file: string, force: boolean): void {
  if (existsSync(file) && !force) throw new Error(`${file} exists; use --force to overwrite it`);
  writeFileSync(file, STARTER_CONFIG, { mode: 0o644 });
}
