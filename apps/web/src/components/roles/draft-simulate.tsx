// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the literal metadata reference syntax, shown as help.
'use client';

import { useState } from 'react';
import { Badge } from '@/components/ui';
import { call } from '@/lib/client';
import { ApiError } from '@/lib/problem';
import type { Catalogue } from './catalogue';
import { schemaFields } from './constraint-editor';
import type { RoleRules, SimulateResult } from '@toolgate/contracts';

/**
 * "What would this role, as it stands now, decide for this call?": posts the unsaved draft to
 * the simulator (no key needed) and shows the decision. A result belongs to the inputs it was
 * made for: change the draft, the tool, an argument or the metadata and it is gone.
 */
export function DraftSimulate({ org, name, rules, catalogue }: { org: string; name: string; rules: RoleRules; catalogue: Catalogue }) {
  const [tool, setTool] = useState(catalogue.tools[0]?.subject ?? '');
  const [args, setArgs] = useState<Record<string, string>>({});
  const [metadata, setMetadata] = useState('');
  const [outcome, setOutcome] = useState<{ for: string; result?: SimulateResult; error?: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const item = catalogue.tools.find((t) => t.subject === tool);
  const fields = schemaFields(item ? [item.inputSchema] : []);
  const typed = Object.fromEntries(
    Object.entries(args)
      .filter(([k, v]) => v !== '' && k in fields)
      .map(([k, v]) => {
        const t = fields[k]?.type;
        if ((t === 'number' || t === 'integer') && /^-?\d+(\.\d+)?$/.test(v)) return [k, Number(v)];
        if (t === 'boolean') return [k, v === 'true'];
        return [k, v];
      }),
  );
  const fingerprint = JSON.stringify({ name, rules, tool, typed, metadata });
  const shown = outcome?.for === fingerprint ? outcome : null;

  async function run() {
    let meta: Record<string, unknown> = {};
    if (metadata.trim()) {
      try {
        meta = JSON.parse(metadata);
      } catch {
        setOutcome({ for: fingerprint, error: 'Key metadata must be a JSON object, e.g. {"customer_id": "c_42"}.' });
        return;
      }
    }
    setBusy(true);
    try {
      const result = await call<SimulateResult>('POST', `/v1/orgs/${encodeURIComponent(org)}/policy/simulate`, {
        draft: { ...(/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name) ? { name } : {}), rules, metadata: meta },
        method: 'tools/call',
        name: tool.trim(),
        arguments: typed,
      });
      setOutcome({ for: fingerprint, result });
    } catch (err) {
      const detail =
        err instanceof ApiError && err.problem.errors?.length
          ? err.problem.errors.map((x) => `${x.path}: ${x.message}`).join('; ')
          : err instanceof Error
            ? err.message
            : 'Something went wrong.';
      setOutcome({ for: fingerprint, error: detail });
    } finally {
      setBusy(false);
    }
  }

  return (
    // Not a <form>: it sits inside the role's form, and forms do not nest. Enter runs the test, not a save.
    <fieldset
      className="stack"
      style={{ gap: 8, border: 0, padding: 0, margin: 0, minWidth: 0 }}
      aria-label="Test the draft"
      data-testid="draft-simulate"
      onKeyDown={(e) => {
        if (e.key === 'Enter' && e.target instanceof HTMLInputElement) {
          e.preventDefault();
          if (!busy && tool.trim()) void run();
        }
      }}
    >
      <label className="field" style={{ margin: 0 }}>
        <span>Tool</span>
        <input
          value={tool}
          onChange={(e) => setTool(e.target.value)}
          list="builder-tool-names"
          placeholder="server__tool"
          autoComplete="off"
        />
      </label>
      {Object.entries(fields).map(([k, f]) => (
        // biome-ignore lint/a11y/noLabelWithoutControl: both branches below are the control.
        <label key={k} className="field" style={{ margin: 0 }}>
          <span>
            Argument <code>{k}</code>
          </span>
          {f.enum || f.type === 'boolean' ? (
            <select aria-label={`Argument ${k}`} value={args[k] ?? ''} onChange={(e) => setArgs({ ...args, [k]: e.target.value })}>
              <option value="">(not sent)</option>
              {(f.enum ?? [true, false]).map((v) => (
                <option key={String(v)} value={String(v)}>
                  {String(v)}
                </option>
              ))}
            </select>
          ) : (
            <input
              aria-label={`Argument ${k}`}
              value={args[k] ?? ''}
              onChange={(e) => setArgs({ ...args, [k]: e.target.value })}
              autoComplete="off"
            />
          )}
        </label>
      ))}
      <label className="field" style={{ margin: 0 }}>
        <span>Key metadata (optional JSON)</span>
        <input value={metadata} onChange={(e) => setMetadata(e.target.value)} placeholder='{"customer_id": "c_42"}' autoComplete="off" />
        <span className="hint">What {'${key.metadata.…}'} references resolve to in this test.</span>
      </label>
      <div>
        <button type="button" className="btn" onClick={run} disabled={busy || !tool.trim()}>
          {busy ? 'Testing…' : 'Test the draft'}
        </button>
      </div>
      {shown?.error ? (
        <div className="notice error" role="alert" data-testid="draft-simulate-error" style={{ marginBottom: 0 }}>
          {shown.error}
        </div>
      ) : null}
      {shown?.result ? (
        <div
          className={`notice ${shown.result.allowed ? 'ok' : 'error'}`}
          data-testid="draft-simulate-result"
          aria-live="polite"
          style={{ marginBottom: 0 }}
        >
          <Badge kind={shown.result.allowed ? 'ok' : 'danger'}>
            <span data-testid="draft-decision">{shown.result.allowed ? 'Allowed' : 'Denied'}</span>
          </Badge>{' '}
          <span data-testid="draft-reason">{shown.result.reason}</span>
          {shown.result.warnings.map((w) => (
            <div key={w} className="small">
              ⚠ {w}
            </div>
          ))}
        </div>
      ) : null}
    </fieldset>
  );
}
