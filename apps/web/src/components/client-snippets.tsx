'use client';

import { useId, useState } from 'react';
import { clientConfigs, KEY_PLACEHOLDER } from '@/lib/client-configs';
import { CopyButton } from './client-ui';

/**
 * Ready-to-paste client configuration for an MCP endpoint: with `secret`, the freshly issued key
 * is filled in (the reveal after creating or rotating a key); without it, a placeholder.
 */
export function ClientSnippets({ endpoint, name, secret }: { endpoint: string; name: string; secret?: string }) {
  const snippets = clientConfigs({ endpoint, name, key: secret });
  const [tab, setTab] = useState(snippets[0]!.id);
  const idBase = useId();
  const current = snippets.find((s) => s.id === tab) ?? snippets[0]!;
  return (
    <div data-testid="client-configs">
      <div className="tabs" role="tablist" aria-label="Client configuration" style={{ flexWrap: 'wrap' }}>
        {snippets.map((s) => (
          <button
            key={s.id}
            type="button"
            role="tab"
            aria-selected={s.id === tab}
            aria-controls={`${idBase}-${s.id}`}
            onClick={() => setTab(s.id)}
          >
            {s.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${idBase}-${current.id}`} aria-label={current.label} className="stack" style={{ gap: 8 }}>
        <div className="row">
          <span className="muted small">
            {current.where === 'terminal' ? (
              'Run in a terminal'
            ) : (
              <>
                Paste into <code>{current.where}</code>
              </>
            )}
            {secret ? ' — your key is filled in.' : `; replace ${KEY_PLACEHOLDER} with a key from Agent keys.`}
          </span>
          <span className="spacer" />
          <CopyButton value={current.text} label={`Copy ${current.label} config`} />
        </div>
        <pre data-testid="client-config-text" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
          {current.text}
        </pre>
      </div>
    </div>
  );
}

export function EndpointLine({ label, url }: { label: string; url: string }) {
  return (
    <div className="row" style={{ flexWrap: 'nowrap' }}>
      <span className="muted" style={{ minWidth: 110 }}>
        {label}
      </span>
      <code data-testid="endpoint-url" style={{ overflowWrap: 'anywhere' }}>
        {url}
      </code>
      <CopyButton value={url} label="Copy URL" />
    </div>
  );
}
