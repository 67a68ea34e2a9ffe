'use client';

import Link from 'next/link';
import { type FormEvent, useId, useMemo, useState } from 'react';
import { Badge } from '@/components/ui';
import { call } from '@/lib/client';
import { ApiError } from '@/lib/problem';
import { readableRules, ruleAt } from './paths';
import type { KeyView, RoleView, SimulatedMethod, SimulateResult } from '@toolgate/contracts';
import type { ServerSummary } from './catalogue';

const METHODS: { value: SimulatedMethod; label: string; name: string; placeholder: string }[] = [
  { value: 'tools/call', label: 'tools/call — call a tool', name: 'Tool name', placeholder: 'get_issue' },
  { value: 'prompts/get', label: 'prompts/get — get a prompt', name: 'Prompt name', placeholder: 'summarize' },
  { value: 'resources/read', label: 'resources/read — read a resource', name: 'Resource URI', placeholder: 'file:///docs/readme.md' },
];

/**
 * "Would this key be allowed to make this call?" — runs POST /policy/simulate against the org's
 * current snapshot (the gateway's own decision code) and shows the decision and the rule behind it.
 */
export function SimulatePanel({
  org,
  keys,
  servers,
  roles,
  defaultKeyId,
  preferRoleId,
}: {
  org: string;
  keys: KeyView[];
  servers: ServerSummary[];
  roles: RoleView[];
  defaultKeyId?: string;
  /** On a role's page: keys holding this role are listed first and picked by default. */
  preferRoleId?: string;
}) {
  const uid = useId();
  const usable = useMemo(() => {
    const holds = (k: KeyView) => (preferRoleId && k.roles.some((r) => r.id === preferRoleId) ? 0 : 1);
    const rank = (k: KeyView) => (k.status === 'active' ? 0 : k.status === 'expired' ? 1 : 2);
    return [...keys].sort((a, b) => holds(a) - holds(b) || rank(a) - rank(b));
  }, [keys, preferRoleId]);
  const initialKey = (defaultKeyId && keys.some((k) => k.id === defaultKeyId) ? defaultKeyId : usable[0]?.id) ?? '';
  const [keyId, setKeyId] = useState(initialKey);
  const [method, setMethod] = useState<SimulatedMethod>('tools/call');
  const [server, setServer] = useState(servers.find((s) => s.enabled)?.slug ?? '');
  const [name, setName] = useState('');
  const [args, setArgs] = useState('{}');
  const [ip, setIp] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<SimulateResult | null>(null);

  const m = METHODS.find((x) => x.value === method)!;
  const catalog = servers.find((s) => s.slug === server)?.catalog;
  const suggestions =
    method === 'tools/call'
      ? (catalog?.tools ?? []).map((t) => t.name)
      : method === 'prompts/get'
        ? (catalog?.prompts ?? []).map((p) => p.name)
        : (catalog?.resources ?? []).map((r) => r.uri);

  if (keys.length === 0) {
    return (
      <p className="muted" style={{ margin: 0 }}>
        A test runs as an agent key, with the roles it holds. <Link href={`/o/${org}/keys`}>Create a key</Link> with the role you want to
        try, then come back here.
      </p>
    );
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found: Record<string, string> = {};
    if (!keyId) found.keyId = 'Pick a key.';
    if (!server.trim()) found.server = 'Enter the server’s slug.';
    if (!name.trim()) found.name = `Enter the ${m.name.toLowerCase()}.`;
    let parsedArgs: Record<string, unknown> | undefined;
    if (method === 'tools/call' && args.trim() && args.trim() !== '{}') {
      try {
        const v: unknown = JSON.parse(args);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) found.arguments = 'Arguments must be a JSON object, e.g. {"id": 42}.';
        else parsedArgs = v as Record<string, unknown>;
      } catch (err) {
        found.arguments = `Not valid JSON: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    setErrors(found);
    setGeneral(null);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    try {
      const r = await call<SimulateResult>('POST', `/v1/orgs/${encodeURIComponent(org)}/policy/simulate`, {
        keyId,
        method,
        server: server.trim(),
        name: name.trim(),
        ...(parsedArgs ? { arguments: parsedArgs } : {}),
        ...(ip.trim() ? { ip: ip.trim() } : {}),
      });
      setResult(r);
    } catch (err) {
      setResult(null);
      if (err instanceof ApiError && err.problem.errors?.length) {
        const byField: Record<string, string> = {};
        const rest: string[] = [];
        for (const x of err.problem.errors) {
          const field = x.path.split('.')[0] ?? '';
          if (['keyId', 'server', 'name', 'arguments', 'ip'].includes(field) && !byField[field]) byField[field] = x.message;
          else rest.push(x.path ? `${x.path}: ${x.message}` : x.message);
        }
        setErrors(byField);
        setGeneral(rest.length ? rest.join('. ') : null);
      } else setGeneral(err instanceof Error ? err.message : 'Something went wrong.');
    } finally {
      setBusy(false);
    }
  }

  const err = (field: string) =>
    errors[field] ? (
      <span className="field-error" id={`${uid}-${field}-err`}>
        {errors[field]}
      </span>
    ) : null;
  const invalid = (field: string) => (errors[field] ? { 'aria-invalid': true, 'aria-describedby': `${uid}-${field}-err` } : {});

  return (
    <div className="stack">
      <form className="stack" onSubmit={submit} noValidate aria-label="Test a call">
        {general ? (
          <div className="notice error" role="alert">
            {general}
          </div>
        ) : null}
        <div className="grid" style={{ gap: 12 }}>
          <label className="field">
            <span>As key</span>
            <select value={keyId} onChange={(e) => setKeyId(e.target.value)} {...invalid('keyId')}>
              {usable.map((k) => (
                <option key={k.id} value={k.id}>
                  {k.name} ({k.prefix}…) — {k.roles.length ? k.roles.map((r) => r.name).join(', ') : 'no roles'}
                  {k.status === 'active' ? '' : ` [${k.status}]`}
                </option>
              ))}
            </select>
            {err('keyId')}
          </label>
          <label className="field">
            <span>Method</span>
            <select value={method} onChange={(e) => setMethod(e.target.value as SimulatedMethod)}>
              {METHODS.map((x) => (
                <option key={x.value} value={x.value}>
                  {x.label}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Server</span>
            <input
              value={server}
              onChange={(e) => setServer(e.target.value)}
              list={`${uid}-servers`}
              placeholder="github"
              autoComplete="off"
              {...invalid('server')}
            />
            <datalist id={`${uid}-servers`}>
              {servers.map((s) => (
                <option key={s.id} value={s.slug}>
                  {s.name}
                  {s.enabled ? '' : ' (disabled)'}
                </option>
              ))}
            </datalist>
            {err('server') ?? <span className="hint">The server’s slug, as in {'<server>__<tool>'}.</span>}
          </label>
          <label className="field">
            <span>{m.name}</span>
            <input
              value={name}
              onChange={(e) => setName(e.target.value)}
              list={`${uid}-names`}
              placeholder={m.placeholder}
              autoComplete="off"
              {...invalid('name')}
            />
            <datalist id={`${uid}-names`}>
              {suggestions.map((s) => (
                <option key={s} value={s} />
              ))}
            </datalist>
            {err('name') ?? (
              <span className="hint">
                {suggestions.length ? `${suggestions.length} known from the server’s catalogue.` : 'Without the server prefix.'}
              </span>
            )}
          </label>
        </div>
        {method === 'tools/call' ? (
          <label className="field">
            <span>Arguments (JSON object)</span>
            <textarea value={args} onChange={(e) => setArgs(e.target.value)} rows={4} spellCheck={false} {...invalid('arguments')} />
            {err('arguments') ?? <span className="hint">Checked against the constraints of allow rules.</span>}
          </label>
        ) : null}
        <label className="field" style={{ maxWidth: 320 }}>
          <span>Client IP (optional)</span>
          <input value={ip} onChange={(e) => setIp(e.target.value)} placeholder="203.0.113.7" autoComplete="off" {...invalid('ip')} />
          {err('ip') ?? <span className="hint">Only matters when a role has an IP allow-list.</span>}
        </label>
        <div>
          <button type="submit" className="btn primary" disabled={busy}>
            {busy ? 'Testing…' : 'Run test'}
          </button>
        </div>
      </form>
      {result ? <Decision org={org} result={result} roles={roles} /> : null}
    </div>
  );
}

function Decision({ org, result, roles }: { org: string; result: SimulateResult; roles: RoleView[] }) {
  const rule = result.rule;
  const role = rule ? roles.find((r) => r.id === rule.roleId) : undefined;
  const ruleBody = rule && role ? ruleAt(readableRules(role.rules), rule.path) : undefined;
  const subject =
    result.request.kind === 'resource'
      ? `resource ${result.request.name} on ${result.request.server}`
      : `${result.request.kind} ${result.request.server}__${result.request.name}`;
  return (
    <section
      className={`notice ${result.allowed ? 'ok' : 'error'}`}
      aria-live="polite"
      data-testid="simulate-result"
      style={{ marginBottom: 0 }}
    >
      <div className="row" style={{ marginBottom: 6 }}>
        <Badge kind={result.allowed ? 'ok' : 'danger'}>
          <span data-testid="simulate-decision" style={{ fontWeight: 700, fontSize: 14 }}>
            {result.allowed ? 'Allowed' : 'Denied'}
          </span>
        </Badge>
        <span className="mono small" style={{ overflowWrap: 'anywhere' }}>
          {subject}
        </span>
      </div>
      <p style={{ margin: '0 0 6px' }} data-testid="simulate-reason">
        {result.reason.charAt(0).toUpperCase() + result.reason.slice(1)}.
      </p>
      {rule ? (
        <div className="stack" style={{ gap: 6 }}>
          <div>
            Rule:{' '}
            {rule.roleId ? (
              <Link href={`/o/${org}/roles/${rule.roleId}`} data-testid="simulate-rule">
                <code>{rule.label}</code>
              </Link>
            ) : (
              <code data-testid="simulate-rule">{rule.label}</code>
            )}
          </div>
          {ruleBody !== undefined ? <pre className="small">{JSON.stringify(ruleBody, null, 2)}</pre> : null}
        </div>
      ) : (
        <div className="small" data-testid="simulate-rule">
          No single rule decided this: a call is denied unless a rule of the key’s roles allows it.
        </div>
      )}
      {result.warnings.map((w) => (
        <div key={w} className="small" style={{ marginTop: 6 }}>
          ⚠ {w}
        </div>
      ))}
      <div className="small" style={{ marginTop: 6, opacity: 0.8 }}>
        {result.key
          ? `Key ${result.key.name} with roles ${result.key.roles.map((r) => r.name ?? r.id).join(', ') || 'none'}`
          : 'Draft role'}{' '}
        · policy version {result.snapshotVersion}
      </div>
    </section>
  );
}
