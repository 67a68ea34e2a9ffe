#!/usr/bin/env node
// Runs every test in the repo (all Jest projects) against local Postgres and Redis, then prints
// the totals as the last line: `N passed, M failed`.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });

// The Prisma client is generated code (not committed); make sure it matches the schema.
const gen = run('pnpm', ['--filter', '@toolgate/db', 'run', 'db:generate'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (gen.status !== 0) {
  console.error('prisma generate failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// The dashboard's browser tests drive Debian's Chromium (playwright-core never downloads one).
if (!existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')) {
  const asRoot = process.getuid?.() === 0;
  console.error(
    asRoot ? 'installing Debian chromium for the browser tests…' : 'Chromium is missing: run `sudo apt-get install -y chromium`',
  );
  if (asRoot) run('apt-get', ['install', '-y', '-q', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

// The sandboxed fixture servers run as unprivileged uids and read their code from this checkout
// (the vetted paths in scripts/test-db.js): every folder above it must let others pass
// (search bit only, no listing). A clone under a 0700 folder such as mktemp's would hide them.
for (let dir = root; dir !== path.dirname(dir); dir = path.dirname(dir)) {
  const mode = statSync(dir).mode;
  if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
}

// Every stdio server in the tests runs in the sandbox, as in production: Debian's bubblewrap and slirp4netns.
if (spawnSync('sh', ['-c', 'command -v bwrap && command -v slirp4netns'], { stdio: 'ignore' }).status !== 0) {
  const asRoot = process.getuid?.() === 0;
  console.error(
    asRoot
      ? 'installing bubblewrap and slirp4netns for the stdio sandbox…'
      : 'Missing: run `sudo apt-get install -y bubblewrap slirp4netns`',
  );
  if (asRoot) run('apt-get', ['install', '-y', '-q', 'bubblewrap', 'slirp4netns'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

// The deployment tests (infra/test) render what ships: docker-compose.yml with Debian's
// docker-compose, the Kubernetes overlays with kubectl's built-in kustomize (kubectl is not in
// Debian's archive; it comes with this kind of machine, see infra/README.md).
if (spawnSync('sh', ['-c', 'command -v docker-compose'], { stdio: 'ignore' }).status !== 0) {
  const asRoot = process.getuid?.() === 0;
  console.error(
    asRoot ? "installing Debian's docker-compose for the deployment tests…" : 'Missing: run `sudo apt-get install -y docker-compose`',
  );
  if (asRoot) run('apt-get', ['install', '-y', '-q', 'docker-compose'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
if (spawnSync('sh', ['-c', 'command -v kubectl'], { stdio: 'ignore' }).status !== 0) {
  console.error('Missing: kubectl (the Kubernetes tests render the overlays with `kubectl kustomize`); see infra/README.md');
}

const out = path.join(mkdtempSync(path.join(tmpdir(), 'tg-test-')), 'jest.json');
const extra = process.argv.slice(2);
const jest = run(process.execPath, [
  path.join(root, 'node_modules/jest/bin/jest.js'),
  '--ci',
  '--maxWorkers=2',
  '--json',
  `--outputFile=${out}`,
  ...extra,
]);

let passed = 0;
let failed = 0;
try {
  const r = JSON.parse(readFileSync(out, 'utf8'));
  passed = r.numPassedTests;
  // A suite that could not run (syntax error, failing hook) has no failed tests: count it.
  const brokenSuites = r.testResults.filter((s) => s.status === 'failed' && s.assertionResults.every((a) => a.status !== 'failed')).length;
  failed = r.numFailedTests + brokenSuites;
} catch {
  failed = 1;
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(jest.status === 0 && failed === 0 ? 0 : 1);
