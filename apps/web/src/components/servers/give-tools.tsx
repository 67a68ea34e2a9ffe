'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { EMPTY_RULES } from '@/components/roles/draft';
import { createKeyForRole, RoleKeyReveal } from '@/components/roles/key-for-role';
import type { KeyWithSecret, RoleView } from '@toolgate/contracts';
import { call } from '@/lib/client';
import { ApiError } from '@/lib/problem';
import { ruleSubject } from '@toolgate/policy/src/subject';

/** What giving tools needs: the org, the server whose tools are ticked and the endpoint the config points at. */
export interface GiveToolsTarget {
  org: string;
  serverSlug: string;
  endpoint: string;
}

/** Names tried for the new role before giving up: `<server>-agent`, then `-2` … `-9`. */
const ROLE_NAME_TRIES = 9;

/**
 * The shortest way from a catalogue to a working agent: the ticked tools become one role that
 * allows exactly them (`<server>-agent`, editable later in the builder), and a key holding it is
 * shown once with ready client configs. A taken role name moves on to the next free one rather
 * than touching the existing role.
 */
async function createRole(org: string, serverSlug: string, tools: string[]): Promise<RoleView> {
  const rules = { ...EMPTY_RULES, tools: tools.map((t) => ({ effect: 'allow', match: ruleSubject(serverSlug, t) })) };
  const description = `Tools of ${serverSlug} given from its catalogue.`;
  for (let i = 1; ; i++) {
    const name = i === 1 ? `${serverSlug}-agent` : `${serverSlug}-agent-${i}`;
    try {
      return await call<RoleView>('POST', `/v1/orgs/${encodeURIComponent(org)}/roles`, { name, description, rules });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409) || i >= ROLE_NAME_TRIES) throw err;
    }
  }
}

export function GiveTools({ target, selected, onClear }: { target: GiveToolsTarget; selected: string[]; onClear: () => void }) {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<{ role: RoleView; key: KeyWithSecret } | null>(null);

  async function give() {
    setBusy(true);
    setError(null);
    try {
      const role = await createRole(target.org, target.serverSlug, selected);
      const key = await createKeyForRole(target.org, role);
      setDone({ role, key });
      onClear();
      router.refresh();
    } catch (err) {
      setError(err instanceof Error ? err.message : 'Something went wrong.');
    } finally {
      setBusy(false);
    }
  }

  if (done)
    return <RoleKeyReveal org={target.org} role={done.role} created={done.key} endpoint={target.endpoint} onDone={() => setDone(null)} />;
  if (selected.length === 0) return null;
  const what = selected.length === 1 ? 'this tool' : `these ${selected.length} tools`;
  return (
    <section className="row card" aria-label="Selected tools" data-testid="give-tools">
      <span>
        {selected.length} selected: <span className="muted small">{selected.join(', ')}</span>
      </span>
      <span className="spacer" />
      <button type="button" className="btn" onClick={onClear} disabled={busy}>
        Clear
      </button>
      <button type="button" className="btn primary" onClick={give} disabled={busy}>
        {busy ? 'Creating…' : `Give an agent ${what}`}
      </button>
      {error ? (
        <span className="field-error" role="alert">
          {error}
        </span>
      ) : null}
    </section>
  );
}
