/** The small commands as a user runs them: init, bad usage, an invalid config at start. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load';
import { CLI, configDir, gatewayEnv } from './standalone';

const run = (args: string[], env: NodeJS.ProcessEnv = gatewayEnv()) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, timeout: 60_000 });

describe('toolgate commands', () => {
  it('init writes a commented starter config that loads with its key from the environment, and will not overwrite it', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'tg-init-')), 'toolgate.yaml');
    const first = run(['init', '--config', file]);
    expect(first.status).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^# /m);
    expect(text).toContain('server-everything');
    const { snapshot } = loadConfig(file, { env: { TOOLGATE_KEY: 'tg_from_env' }, secretKey: Buffer.alloc(32), version: 1 });
    expect(snapshot.servers.map((s) => s.slug)).toEqual(['everything']);
    expect(snapshot.roles.map((r) => r.name)).toEqual(['developer']);
    expect(snapshot.keys.map((k) => k.name)).toEqual(['laptop']);

    const again = run(['init', '--config', file]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/exists; use --force/);
    expect(run(['init', '--config', file, '--force']).status).toBe(0);
  });

  it('refuses to start on an invalid config, naming file and line, with exit code 2', () => {
    const { file } = configDir('version: 1\nservers:\n  Bad_Slug:\n    transport: stdio\n    command: node\n');
    const r = run(['gateway', '--config', file, '--port', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}:3:`);
    expect(r.stderr).toMatch(/servers\.Bad_Slug/);
  });

  it('answers unknown commands and bad usage with exit code 2 and help', () => {
    const unknown = run(['frobnicate']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    expect(run(['audit', 'verify']).status).toBe(2);
    expect(run(['audit', 'verify', '/nonexistent/file.jsonl']).status).toBe(2);
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/toolgate gateway --config/);
  });
});
