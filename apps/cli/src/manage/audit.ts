import { once } from 'node:events';
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { type AuditListItem, type AuditPage, ExportAuditQuery, fieldErrors } from '@toolgate/contracts';
import { parseCommand } from './args';
import { CliError, EXIT, usageError } from '../exit-codes';
import type { Output } from './output';
import { openSession, orgPath, resolveOrg, type Session } from './session';

export const AUDIT_HELP = `toolgate audit tail [--since 15m|2h|1d|ISO-TIME] [--limit N] [--follow [--interval SECONDS]]
  Prints the org's newest audit events, oldest first. --follow keeps printing new ones (with
  --json: one JSON event per line) until interrupted.

toolgate audit export [--from ISO-TIME] [--to ISO-TIME] [-o FILE]
  Downloads the hash-chained export (NDJSON: header, events, end trailer) to FILE or stdout.
  An export that arrives without its end trailer is incomplete: exit 1, and FILE is not written.

toolgate audit verify FILE [--json]
  Verifies an export (or the standalone gateway's audit file) offline; exit 1 if it is broken.`;

export async function auditRemote(sub: string, args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  if (sub === 'tail') return tail(args, out, env);
  if (sub === 'export') return exportChain(args, out, env);
  throw usageError(`unknown audit command "${sub}"; one of tail, export, verify (see toolgate audit --help)`);
}

const PAGE = 200;

async function tail(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseCommand('audit', args, {
    since: { type: 'string' },
    limit: { type: 'string', short: 'n' },
    follow: { type: 'boolean', short: 'f', default: false },
    interval: { type: 'string' },
  });
  const from = values.since === undefined ? undefined : since(values.since);
  const limit = count('--limit', values.limit ?? '20', PAGE);
  const intervalMs = count('--interval', values.interval ?? '2', 3600) * 1000;
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const page = await s.api.get<AuditPage>(orgPath(org, '/audit'), { from, limit });
  const items = [...page.items].reverse();
  if (!values.follow) {
    out.result({ org, items }, () => items.map(line).join('\n') || 'no audit events');
    return;
  }
  const emit = (e: AuditListItem) => process.stdout.write(`${out.json ? JSON.stringify(e) : line(e)}\n`);
  items.forEach(emit);
  let lastSeq = items.at(-1)?.seq ?? 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const fresh = await newerThan(s, org, lastSeq);
    fresh.forEach(emit);
    lastSeq = fresh.at(-1)?.seq ?? lastSeq;
  }
}

/** Events after `seq`, oldest first: the list is newest first, so page back until reaching it. */
async function newerThan(s: Session, org: string, seq: number): Promise<AuditListItem[]> {
  const found: AuditListItem[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await s.api.get<AuditPage>(orgPath(org, '/audit'), { limit: PAGE, cursor });
    const newer = page.items.filter((e) => e.seq > seq);
    found.push(...newer);
    if (newer.length < page.items.length || !page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return found.reverse();
}

function line(e: AuditListItem): string {
  const who = e.keyId ? `key ${e.keyId.slice(0, 8)}` : e.actorToken ? `token ${e.actorToken.prefix}` : (e.actorId ?? '-');
  return [e.at, `#${e.seq}`, e.kind, e.method, e.target ?? '-', e.decision, e.outcome, who, `${Math.round(e.latencyMs)}ms`].join('  ');
}

/** `15m`, `2h`, `7d` before now, or an ISO instant as given. */
function since(v: string): string {
  const rel = /^(\d+)([smhd])$/.exec(v);
  if (rel) {
    const unit = { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(rel[1]) * unit).toISOString();
  }
  if (ExportAuditQuery.safeParse({ from: v }).success) return v;
  throw usageError(`--since takes a duration (15m, 2h, 7d) or an ISO 8601 time with a zone, got "${v}"`);
}

function count(flag: string, v: string, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw usageError(`${flag} must be a whole number from 1 to ${max}, got "${v}"`);
  return n;
}

async function exportChain(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseCommand('audit', args, {
    from: { type: 'string' },
    to: { type: 'string' },
    output: { type: 'string', short: 'o' },
  });
  const query = { from: values.from, to: values.to };
  const checked = ExportAuditQuery.safeParse(query);
  if (!checked.success) {
    const errors = fieldErrors(checked.error);
    throw usageError(errors.map((e) => `--${e.path}: ${e.message}`).join('\n'), { errors });
  }
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const res = await s.api.stream(orgPath(org, '/audit/export'), query);
  const file = values.output;
  // Written beside the target and renamed at the end: a cut-off export never looks complete.
  const partial = file ? `${file}.partial` : null;
  const fd = partial ? openSync(partial, 'w', 0o600) : null;
  const write = async (text: string) => {
    if (fd !== null) writeSync(fd, text);
    else if (!process.stdout.write(text)) await once(process.stdout, 'drain');
  };
  let stats: ExportStats;
  try {
    stats = await copyLines(res, write);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    if (partial) rmSync(partial, { force: true });
    throw e;
  }
  if (fd !== null) closeSync(fd);
  if (partial && file) renameSync(partial, file);
  const summary = { org, file: file ?? null, events: stats.events, firstSeq: stats.firstSeq, lastSeq: stats.lastSeq };
  if (file) out.result(summary, () => `wrote ${stats.events} events (seq ${stats.firstSeq ?? '-'}..${stats.lastSeq ?? '-'}) to ${file}`);
  else out.note(`exported ${stats.events} events`);
}

interface ExportStats {
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
}

/** Copies the NDJSON body line by line, and insists on the `end` trailer that marks it complete. */
async function copyLines(res: Response, write: (text: string) => Promise<void>): Promise<ExportStats> {
  const stats: ExportStats = { events: 0, firstSeq: null, lastSeq: null };
  let ended = false;
  let rest = '';
  const decoder = new TextDecoder();
  const take = async (text: string) => {
    rest += text;
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const l of lines) {
      if (!l) continue;
      const parsed = JSON.parse(l) as { type?: string; seq?: number };
      if (parsed.type === 'event') {
        stats.events++;
        stats.firstSeq ??= parsed.seq ?? null;
        stats.lastSeq = parsed.seq ?? stats.lastSeq;
      }
      ended = parsed.type === 'end';
      await write(`${l}\n`);
    }
  };
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) await take(decoder.decode(chunk, { stream: true }));
    await take(`${decoder.decode()}\n`);
  } catch (e) {
    throw new CliError(`the export was cut off: ${(e as Error).message}`, EXIT.failed, { code: 'export_incomplete' });
  }
  if (!ended) throw new CliError('the export ended without its end trailer: it is incomplete', EXIT.failed, { code: 'export_incomplete' });
  return stats;
}
