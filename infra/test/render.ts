import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export const root = path.resolve(__dirname, '../..');

/** Runs a renderer; a missing tool fails the test with what to install, never skips it. */
export function render(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? root, env: opts.env ?? process.env });
  if (r.error) throw new Error(`${cmd} is not installed (${r.error.message}): see infra/README.md ("Tests")`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function parseDocs<T>(text: string): T[] {
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as T)
    .filter(Boolean);
}

/** The parts of a rendered compose service the tests read. */
export interface ComposeService {
  command: string[];
  environment: Record<string, string>;
  healthcheck?: { test: string[] };
  ports?: { published: number | string; target: number }[];
  depends_on?: Record<string, { condition: string }>;
  volumes?: (string | { target: string })[];
  user?: string;
  cap_add?: string[];
  security_opt?: string[];
  devices?: string[];
  restart?: string;
}

/** The npm scripts a `pnpm --filter @toolgate/x run script` command can name. */
export function packageScripts(): Record<string, Set<string>> {
  const out: Record<string, Set<string>> = {};
  for (const dir of ['apps/api', 'apps/gateway', 'apps/web', 'packages/db']) {
    const pkg = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
    out[pkg.name] = new Set(Object.keys(pkg.scripts ?? {}));
  }
  return out;
}

/** Asserts `command` is `pnpm --filter <package> run <script>` naming a script that exists. */
export function expectRunnable(command: string[]) {
  expect(command.slice(0, 2)).toEqual(['pnpm', '--filter']);
  expect(command[3]).toBe('run');
  const scripts = packageScripts()[command[2]];
  expect(scripts).toBeDefined();
  expect(scripts.has(command[4])).toBe(true);
}

export function gitLsFiles(): string[] {
  return execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n');
}
