#!/usr/bin/env node
// Builds the installable `toolgate` package: src/main.ts and everything it imports (the gateway's
// pipeline, contracts, policy, the MCP SDK, zod, yaml, undici…) bundled by esbuild into one
// CommonJS file, staged with a package.json of its own, then `npm pack`ed. The workspace runs
// TypeScript sources through @swc-node/register; a tarball cannot, and must not reference
// workspace paths. Prints the tarball's absolute path as its last line.
// Usage: node scripts/pack.mjs [--out DIR]   (default DIR: apps/cli/dist)
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(cliDir, 'dist') } } });
const outDir = path.resolve(values.out);
const stage = path.join(outDir, 'package');
const workspacePkg = JSON.parse(readFileSync(path.join(cliDir, 'package.json'), 'utf8'));

rmSync(stage, { recursive: true, force: true });
mkdirSync(path.join(stage, 'dist'), { recursive: true });

const bin = path.join(stage, 'dist', 'toolgate.js');
const result = await build({
  entryPoints: [path.join(cliDir, 'src/main.ts')],
  outfile: bin,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20.19',
  banner: { js: '#!/usr/bin/env node' },
  // Every dependency is pure JavaScript and bundled; a package that must stay external (native
  // or required by a computed name) would be listed here and in `dependencies` below.
  external: [],
  logLevel: 'warning',
  metafile: true,
});
chmodSync(bin, 0o755);
const foreign = Object.keys(result.metafile.inputs).filter((f) => /(^|\/)(@prisma|prisma|ioredis|bullmq)\//.test(f));
if (foreign.length) throw new Error(`the standalone bundle must not contain platform-only packages: ${foreign.join(', ')}`);

writeFileSync(
  path.join(stage, 'package.json'),
  `${JSON.stringify(
    {
      name: 'toolgate',
      version: workspacePkg.version,
      description:
        'Toolgate, the MCP gateway on one machine: one YAML file, no database; a stdio front and a stdio bridge to a remote Toolgate.',
      bin: { toolgate: 'dist/toolgate.js' },
      files: ['dist'],
      engines: { node: '>=20.19' },
      dependencies: {},
    },
    null,
    2,
  )}\n`,
);
writeFileSync(
  path.join(stage, 'README.md'),
  `# toolgate\n\n\`\`\`sh\ntoolgate init\nexport TOOLGATE_KEY=tg_$(openssl rand -hex 24)\ntoolgate gateway --config toolgate.yaml\n\`\`\`\n\nRun \`toolgate --help\` for every command.\n`,
);

const packed = spawnSync('npm', ['pack', '--json', '--pack-destination', outDir], { cwd: stage, encoding: 'utf8' });
if (packed.status !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`);
const [{ filename }] = JSON.parse(packed.stdout);
console.log(path.join(outDir, filename));
