import { SECRET_NAME, isSensitiveName } from './secret-names';
import { Slug } from './slug';
import type { ServerTransport, ValueSource } from './snapshot';

/**
 * Reads the MCP server lists that desktop clients keep — Claude Desktop's
 * `claude_desktop_config.json` and Cursor's / Claude Code's `mcp.json` (`{"mcpServers": {…}}`),
 * VS Code's `mcp.json` (`{"servers": {…}}`, JSON with comments) or its settings (`{"mcp":
 * {"servers": …}}`) — and turns each entry into a server registration the API accepts.
 *
 * Values that are credentials never become plaintext config: a literal value of a credential-like
 * name (`GITHUB_TOKEN`, `Authorization`) or one that looks like a key is turned into an org secret
 * to create; a placeholder the client would fill in (`${input:token}`, `${env:TOKEN}`, `${TOKEN}`)
 * becomes a reference to an org secret that must exist or be given a value before import.
 */

/** How one env variable or header of an imported server will be stored. */
export type ImportedValue =
  /** Kept as a literal in the server's config (not a credential). */
  | { kind: 'plain'; value: string }
  /** A credential from the file: stored as the org secret `secret`, referenced by the server. */
  | { kind: 'secret'; secret: string; value: string }
  /** A placeholder in the file (`placeholder`): references the org secret `secret`, which must exist (`exists`) or be given a value. */
  | { kind: 'placeholder'; secret: string; placeholder: string; exists: boolean };

export interface ImportCandidate {
  /** The server's name in the file. */
  key: string;
  slug: string;
  name: string;
  transport: ServerTransport;
  command: string | null;
  args: string[];
  url: string | null;
  env: Record<string, ImportedValue>;
  headers: Record<string, ImportedValue>;
  enabled: boolean;
  /** Why this entry cannot be registered as it is (the row is not importable). */
  problems: string[];
  /** What was left out or changed on the way (the row is still importable). */
  notes: string[];
}

export type ClientConfigFormat = 'mcpServers' | 'vscode';

export type ParsedClientConfig = { ok: true; format: ClientConfigFormat; servers: ImportCandidate[] } | { ok: false; error: string };

/** Larger files are not client configs. */
export const MAX_CLIENT_CONFIG_BYTES = 1_000_000;
export const MAX_IMPORTED_SERVERS = 100;

/**
 * Parses a client config. `existingSecrets` (the org's secret names) keeps new secrets from
 * replacing existing ones and lets placeholders reference a secret the org already has.
 */
export function parseClientConfig(text: string, existingSecrets: Iterable<string> = []): ParsedClientConfig {
  if (text.length > MAX_CLIENT_CONFIG_BYTES) return { ok: false, error: 'The file is larger than 1 MB: this is not a client config.' };
  if (text.trim() === '') return { ok: false, error: 'The file is empty.' };
  let doc: unknown;
  try {
    doc = JSON.parse(stripJsonComments(text));
  } catch (e) {
    return { ok: false, error: `This is not valid JSON: ${(e as Error).message}` };
  }
  if (!isObject(doc)) return { ok: false, error: 'Expected a JSON object with "mcpServers" or "servers".' };
  const found = serverMap(doc);
  if (!found) {
    return {
      ok: false,
      error: 'No server list found: expected "mcpServers" (Claude Desktop, Cursor, Claude Code) or "servers" (VS Code).',
    };
  }
  const entries = Object.entries(found.map);
  if (entries.length === 0) return { ok: false, error: 'The server list is empty.' };
  if (entries.length > MAX_IMPORTED_SERVERS) return { ok: false, error: `The file lists more than ${MAX_IMPORTED_SERVERS} servers.` };
  const names = new SecretNames(existingSecrets);
  const slugs = new Set<string>();
  const servers = entries.map(([key, entry]) => {
    const c = candidate(key, entry, names);
    c.slug = uniqueSlug(c.slug, slugs);
    return c;
  });
  return { ok: true, format: found.format, servers };
}

/** The body of `POST /v1/orgs/:org/servers` for a candidate, and the org secrets to put first. */
export function registration(c: ImportCandidate): {
  body: Record<string, unknown>;
  secrets: { name: string; value: string }[];
  /** Secrets named by placeholders that the org does not have yet: their values must be supplied before import. */
  missing: string[];
} {
  const secrets: { name: string; value: string }[] = [];
  const missing: string[] = [];
  const toSources = (map: Record<string, ImportedValue>): Record<string, ValueSource> =>
    Object.fromEntries(
      Object.entries(map).map(([name, v]): [string, ValueSource] => {
        if (v.kind === 'plain') return [name, { value: v.value }];
        if (v.kind === 'secret') secrets.push({ name: v.secret, value: v.value });
        else if (!v.exists && !missing.includes(v.secret)) missing.push(v.secret);
        return [name, { secret: v.secret }];
      }),
    );
  const body: Record<string, unknown> = { slug: c.slug, name: c.name, transport: c.transport, enabled: c.enabled };
  if (c.transport === 'stdio') {
    body.command = c.command;
    body.args = c.args;
    body.env = toSources(c.env);
  } else {
    body.url = c.url;
    body.headers = toSources(c.headers);
  }
  return { body, secrets, missing };
}

// ---------------------------------------------------------------------------------------------

function candidate(key: string, entry: unknown, names: SecretNames): ImportCandidate {
  const c: ImportCandidate = {
    key,
    slug: slugFrom(key),
    name: key.trim().slice(0, 120) || 'Imported server',
    transport: 'stdio',
    command: null,
    args: [],
    url: null,
    env: {},
    headers: {},
    enabled: true,
    problems: [],
    notes: [],
  };
  if (!isObject(entry)) {
    c.problems.push('The entry is not an object.');
    return c;
  }
  if (entry.disabled === true) {
    c.enabled = false;
    c.notes.push('Disabled in the file: registered disabled.');
  }
  const type = typeof entry.type === 'string' ? entry.type.toLowerCase() : null;
  const url = typeof entry.url === 'string' ? entry.url : typeof entry.serverUrl === 'string' ? entry.serverUrl : null;
  const headers = stringMap(entry.headers, 'headers', c);
  const env = stringMap(entry.env, 'env', c);
  for (const ignored of ['envFile', 'cwd'] as const) {
    if (entry[ignored] !== undefined) c.notes.push(`"${ignored}" is not imported: a gateway server has no local files.`);
  }

  if (url !== null || type === 'http' || type === 'sse' || type === 'streamable-http' || type === 'streamablehttp') {
    if (url === null) c.problems.push(`A "${type}" server needs a "url".`);
    else setUrl(c, url, type === 'sse' ? 'sse' : type ? 'streamable-http' : null);
    setValues(c, 'headers', headers, names);
    if (Object.keys(env).length > 0) c.notes.push('"env" is not imported: an HTTP server gets credentials through headers.');
    return c;
  }

  const command = typeof entry.command === 'string' ? entry.command.trim() : '';
  if (!command) {
    c.problems.push('Neither a "command" (stdio) nor a "url" (HTTP) is given.');
    return c;
  }
  const args = Array.isArray(entry.args) ? entry.args : [];
  if (!args.every((a) => typeof a === 'string' || typeof a === 'number')) c.problems.push('"args" must be a list of strings.');
  const strArgs = args.map(String);

  // `npx mcp-remote https://… --header "Authorization: Bearer …"` is how desktop clients reach a
  // remote server; the gateway speaks HTTP itself, so register the remote server directly.
  const remote = mcpRemote(command, strArgs);
  if (remote) {
    setUrl(c, remote.url, remote.transport);
    c.notes.push('Was run through mcp-remote: registered as the remote server it connects to.');
    setValues(c, 'headers', { ...headers, ...remote.headers }, names);
    return c;
  }
  c.transport = 'stdio';
  c.command = command;
  c.args = strArgs;
  if (Object.keys(headers).length > 0) c.notes.push('"headers" are not imported: a stdio server gets credentials through env.');
  setValues(c, 'env', env, names);
  return c;
}

function setUrl(c: ImportCandidate, raw: string, transport: ServerTransport | null) {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    c.problems.push(`"${raw}" is not a URL.`);
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    c.problems.push(`"${raw}" is not an http(s) URL.`);
    return;
  }
  if (url.username || url.password) {
    c.problems.push('The URL contains credentials: move them into a header that references a secret.');
    return;
  }
  c.url = url.toString();
  c.transport = transport ?? (/\/sse\/?$/.test(url.pathname) ? 'sse' : 'streamable-http');
}

function setValues(c: ImportCandidate, field: 'env' | 'headers', map: Record<string, string>, names: SecretNames) {
  for (const [name, value] of Object.entries(map)) {
    const placeholder = PLACEHOLDER.exec(value.trim());
    const ownName = field === 'env' ? secretNameFrom(name) : secretNameFrom(`${c.slug}_${name}`);
    if (placeholder) {
      const wanted = secretNameFrom(placeholder[1] ?? placeholder[2] ?? name);
      c[field][name] = { kind: 'placeholder', secret: wanted, placeholder: value.trim(), exists: names.exists(wanted) };
    } else if (EMBEDDED_PLACEHOLDER.test(value)) {
      // `Bearer ${input:key}`: the client builds the value at run time; the whole value becomes one secret.
      c[field][name] = { kind: 'placeholder', secret: ownName, placeholder: value.trim(), exists: names.exists(ownName) };
    } else if (value !== '' && (isSensitiveName(name) || looksLikeCredential(value))) {
      c[field][name] = { kind: 'secret', secret: names.fresh(ownName, c.slug), value };
    } else {
      c[field][name] = { kind: 'plain', value };
    }
  }
}

/** `${input:id}` (VS Code), `${env:NAME}` (VS Code, Cursor), `${NAME}` (Claude Code). */
const PLACEHOLDER = /^\$\{(?:input:|env:)?([A-Za-z_][\w.-]*)\}$|^\$([A-Z_][A-Z0-9_]*)$/;

const EMBEDDED_PLACEHOLDER = /\$\{(input|env):[^}]+\}/;

/** Well-known key formats, and long random-looking tokens whatever the name they sit under. */
const KNOWN_KEY = /^(sk-|sk_live_|sk_test_|rk_live_|ghp_|gho_|ghu_|ghs_|github_pat_|glpat-|xox[abpr]-|AKIA|AIza|tg_|whsec_|Bearer\s)/;

export function looksLikeCredential(value: string): boolean {
  const v = value.trim();
  if (KNOWN_KEY.test(v)) return true;
  if (v.length < 24 || /\s/.test(v) || /^[a-z]+:\/\//i.test(v) || v.startsWith('/')) return false;
  const classes = [/[a-z]/, /[A-Z]/, /\d/].filter((r) => r.test(v)).length;
  return classes >= 2 && /\d/.test(v) && entropyPerChar(v) >= 3.5;
}

function entropyPerChar(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

function mcpRemote(
  command: string,
  args: string[],
): { url: string; transport: ServerTransport | null; headers: Record<string, string> } | null {
  const launcher = command.split(/[\\/]/).pop() ?? command;
  const at = args.findIndex((a) => /^mcp-remote(@[\w.-]+)?$/.test(a));
  const direct = /^mcp-remote(\.cmd)?$/.test(launcher);
  if (!direct && (at < 0 || !/^(npx|pnpm|bunx|yarn|pnpx)(\.cmd)?$/.test(launcher))) return null;
  const rest = direct ? args : args.slice(at + 1);
  const url = rest.find((a) => /^https?:\/\//i.test(a));
  if (!url) return null;
  const headers: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] !== '--header') continue;
    const h = rest[i + 1] ?? '';
    const colon = h.indexOf(':');
    if (colon > 0) headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
  }
  const t = rest[rest.indexOf('--transport') + 1];
  const transport = rest.includes('--transport') ? (t?.startsWith('sse') ? 'sse' : 'streamable-http') : null;
  return { url, transport, headers };
}

function stringMap(v: unknown, field: string, c: ImportCandidate): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) {
    c.problems.push(`"${field}" must be an object of names to values.`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
    else c.problems.push(`"${field}.${k}" must be a string.`);
  }
  return out;
}

function serverMap(doc: Record<string, unknown>): { format: ClientConfigFormat; map: Record<string, unknown> } | null {
  if (isObject(doc.mcpServers)) return { format: 'mcpServers', map: doc.mcpServers };
  if (isObject(doc.servers)) return { format: 'vscode', map: doc.servers };
  if (isObject(doc.mcp) && isObject(doc.mcp.servers)) return { format: 'vscode', map: doc.mcp.servers };
  return null;
}

/** A slug the API accepts, from a name in a file (`GitHub (work)` → `github-work`). */
export function slugFrom(name: string): string {
  let s = name
    .normalize('NFKD')
    // Accents come apart from their letters under NFKD: drop them (Ü → u).
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  if (s.length < 2) s = s ? `${s}-server` : 'server';
  return Slug.safeParse(s).success ? s : 'server';
}

function uniqueSlug(slug: string, taken: Set<string>): string {
  let out = slug;
  for (let n = 2; taken.has(out); n++) out = `${slug.slice(0, 40 - String(n).length - 1)}-${n}`;
  taken.add(out);
  return out;
}

function secretNameFrom(raw: string): string {
  let s = raw.replace(/[^A-Za-z0-9_]+/g, '_').toUpperCase();
  if (!/^[A-Za-z_]/.test(s)) s = `_${s}`;
  return s.slice(0, 128);
}

/** Secret names for one import: new secrets never reuse an existing or already chosen name. */
class SecretNames {
  private readonly existing: Set<string>;
  private readonly chosen = new Set<string>();
  constructor(existing: Iterable<string>) {
    this.existing = new Set(existing);
  }

  /** A name for a new secret: `wanted`, else prefixed with the server, else numbered. */
  fresh(wanted: string, slug: string): string {
    const taken = (n: string) => this.existing.has(n) || this.chosen.has(n);
    let name = wanted;
    if (taken(name)) name = secretNameFrom(`${slug}_${wanted}`);
    for (let n = 2; taken(name); n++) name = `${secretNameFrom(`${slug}_${wanted}`).slice(0, 120)}_${n}`;
    if (!SECRET_NAME.test(name)) name = secretNameFrom(name);
    this.chosen.add(name);
    return name;
  }

  exists(name: string): boolean {
    return this.existing.has(name);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * JSON with comments (`//`, `/* *\/`) and trailing commas, as VS Code writes it, to plain JSON.
 * Strings are copied untouched, so `"https://x"` keeps its slashes.
 */
export function stripJsonComments(text: string): string {
  const withoutComments = scan(text, (t, i) => {
    if (t.startsWith('//', i)) return lengthTo(t, i, '\n', 0);
    if (t.startsWith('/*', i)) return lengthTo(t, i, '*/', 2);
    return 0;
  });
  // A comma followed only by whitespace before `}` or `]`.
  return scan(withoutComments, (t, i) => {
    if (t[i] !== ',') return 0;
    let j = i + 1;
    while (j < t.length && /\s/.test(t[j]!)) j++;
    return t[j] === '}' || t[j] === ']' ? 1 : 0;
  });
}

/** Characters from `i` up to `end` (plus `extra`), or to the end of `t` when `end` never comes. */
function lengthTo(t: string, i: number, end: string, extra: number): number {
  const at = t.indexOf(end, i + 2);
  return at < 0 ? t.length - i : at - i + extra;
}

/** Copies `t`, dropping the number of characters `skip(t, i)` says at each position outside strings. */
function scan(t: string, skip: (t: string, i: number) => number): string {
  let out = '';
  let i = 0;
  while (i < t.length) {
    if (t[i] === '"') {
      let j = i + 1;
      while (j < t.length && t[j] !== '"') j += t[j] === '\\' ? 2 : 1;
      out += t.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const n = skip(t, i);
    if (n === 0) out += t[i++];
    else i += n;
  }
  return out;
}
