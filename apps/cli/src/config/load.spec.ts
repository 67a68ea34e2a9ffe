import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSecret, sha256Hex } from '@toolgate/contracts';
import { ConfigError, type ConfigProblem } from './errors';
import { loadConfig } from './load';

const dir = mkdtempSync(path.join(tmpdir(), 'tg-config-'));
const secretKey = Buffer.alloc(32, 7);
let n = 0;

function write(text: string, name = `c${++n}.yaml`): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function load(text: string, env: NodeJS.ProcessEnv = {}) {
  return loadConfig(write(text), { env, secretKey, version: 1 });
}

/** The problems of an invalid file (fails the test when it loads). */
function problems(text: string, env: NodeJS.ProcessEnv = {}): ConfigProblem[] {
  try {
    load(text, env);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('the config loaded');
}

const GOOD = `version: 1
servers:
  files:
    transport: stdio
    command: node
    args: [server.js]
    env:
      API_TOKEN: {env: FILES_TOKEN}
      MODE: readonly
roles:
  dev:
    tools:
      - {effect: allow, match: "files__*"}
keys:
  laptop:
    roles: [dev]
    env: TG_KEY
`;

describe('standalone config', () => {
  it('compiles servers, roles and keys into a snapshot, sealing referenced secrets and hashing env keys', () => {
    const { snapshot } = load(GOOD, { FILES_TOKEN: 's3cret-value', TG_KEY: 'tg_abc' });
    expect(snapshot.orgSlug).toBe('local');
    expect(snapshot.keys).toEqual([expect.objectContaining({ id: 'key:laptop', hash: sha256Hex('tg_abc'), roleIds: ['role:dev'] })]);
    const server = snapshot.servers[0]!;
    expect(server.env).toEqual({ API_TOKEN: { secret: 'env:FILES_TOKEN' }, MODE: { value: 'readonly' } });
    expect(openSecret(secretKey, 'local', snapshot.secrets['env:FILES_TOKEN']!)).toBe('s3cret-value');
    expect(JSON.stringify(snapshot)).not.toContain('s3cret-value');
  });

  it('names file and line of a YAML syntax error', () => {
    const [p] = problems('version: 1\nservers:\n  a: [unclosed\n');
    expect(p!.file).toMatch(/\.yaml$/);
    expect(p!.line).toBeGreaterThanOrEqual(3);
  });

  it('names the line of an unknown field and of a missing one', () => {
    const ps = problems('version: 1\nservers:\n  files:\n    transport: stdio\n    comand: node\n');
    expect(ps).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: 5, path: 'servers.files.comand', message: 'unknown field "comand"' }),
        expect.objectContaining({ line: 4, path: 'servers.files.command', message: 'a stdio server needs a command' }),
      ]),
    );
  });

  it('names a bad server name where it is written', () => {
    const [p] = problems('version: 1\nservers:\n  Bad_Slug:\n    transport: stdio\n    command: node\n');
    expect(p).toMatchObject({ line: 3, col: 3, path: 'servers.Bad_Slug' });
    expect(p!.message).toMatch(/"Bad_Slug" is not a valid name: must be lowercase/);
  });

  it('refuses a credential written inline', () => {
    const [p] = problems(
      'version: 1\nservers:\n  gh:\n    transport: streamable-http\n    url: https://x.example/mcp\n    headers:\n      Authorization: Bearer abc\n',
    );
    expect(p).toMatchObject({ line: 7, path: 'servers.gh.headers.Authorization' });
    expect(p!.message).toMatch(/looks like a credential/);
  });

  it('names an unset environment variable and an unknown role where they are referenced', () => {
    const text = GOOD.replace('roles: [dev]', 'roles: [dev, ops]');
    const ps = problems(text, {});
    expect(ps).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: 8, message: 'environment variable FILES_TOKEN is not set' }),
        expect.objectContaining({ path: 'keys.laptop.roles.1', message: 'no role "ops" is defined under roles' }),
        expect.objectContaining({ line: 17, message: 'environment variable TG_KEY is not set' }),
      ]),
    );
  });

  it('checks roles with the API rule language', () => {
    const [p] = problems(GOOD.replace('match: "files__*"', 'match: "files__ bad"'), { FILES_TOKEN: 'x', TG_KEY: 'k' });
    expect(p).toMatchObject({ line: 13, path: 'roles.dev.tools.0.match' });
    expect(p!.message).toMatch(/may only contain/);
  });

  it('wants exactly one of hash and env for a key, and a well-formed hash', () => {
    const ps = problems('version: 1\nroles: {dev: {}}\nkeys:\n  a: {roles: [dev]}\n  b: {roles: [dev], hash: "XYZ"}\n');
    expect(ps).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: 4, message: 'a key needs exactly one of hash or env' }),
        expect.objectContaining({ line: 5, path: 'keys.b.hash' }),
      ]),
    );
  });

  it('reports what the policy compiler refuses at the record it names', () => {
    const hash = sha256Hex('same');
    const ps = problems(
      `version: 1\nroles: {dev: {}}\nkeys:\n  a: {roles: [dev], hash: "${hash}"}\n  b: {roles: [dev], hash: "${hash}"}\n`,
    );
    expect(ps[0]!.message).toMatch(/same hash/);
  });

  it('reads {secret: NAME} from the secrets file and says when one is missing', () => {
    writeFileSync(path.join(dir, 'app.secrets'), '# comment\nGH=ghp_123\n');
    const base =
      'version: 1\nsecretsFile: app.secrets\nservers:\n  gh:\n    transport: sse\n    url: https://x.example/sse\n    headers:\n      Authorization: {secret: GH}\n';
    const { snapshot } = load(base);
    expect(openSecret(secretKey, 'local', snapshot.secrets['file:GH']!)).toBe('ghp_123');
    const [p] = problems(base.replace('{secret: GH}', '{secret: NOPE}'));
    expect(p).toMatchObject({ line: 8, message: 'secret "NOPE" is not in app.secrets' });
  });

  it('says when the file cannot be read', () => {
    expect(() => loadConfig(path.join(dir, 'missing.yaml'), { env: {}, secretKey, version: 1 })).toThrow(/cannot read/);
  });
});
