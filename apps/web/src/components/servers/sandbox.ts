import { apiResult } from '@/lib/api';
import type { GatewayStatus, SandboxView } from '@toolgate/contracts';

/**
 * The deployment's sandbox state for the servers pages, or null when the API cannot say (Redis
 * down): the pages still render, without the banner, rather than failing on a side note.
 */
export async function loadSandbox(org: string): Promise<SandboxView | null> {
  const r = await apiResult<SandboxView>(`/v1/orgs/${encodeURIComponent(org)}/sandbox`);
  return r.ok ? r.data : null;
}

export interface SandboxNote {
  /** Loud notes are banners; quiet ones a line of muted text. */
  loud: boolean;
  kind: 'error' | 'warn' | 'info';
  title: string;
  text: string;
}

const names = (gs: GatewayStatus[]) => gs.map((g) => g.workerId).join(', ');

/** What the servers pages say about the sandbox, from the API's summary. */
export function sandboxNote(view: SandboxView): SandboxNote {
  const { gateways } = view;
  switch (view.summary) {
    case 'unconfined': {
      const off = gateways.filter((g) => g.sandbox.mode === 'off');
      return {
        loud: true,
        kind: 'warn',
        title: 'Tenant code runs without a sandbox.',
        text: `The sandbox is turned off on ${names(off)}: stdio servers run there directly on the gateway host, with its files and network. Ask your operator to turn it on.`,
      };
    }
    case 'failing': {
      const broken = gateways.filter((g) => !g.sandbox.ok);
      return {
        loud: true,
        kind: 'error',
        title: 'stdio servers cannot start.',
        text: `The sandbox does not start on ${names(broken)} (${broken.map((g) => g.sandbox.detail).join('; ')}). HTTP servers are not affected; ask your operator to fix the gateway host.`,
      };
    }
    case 'no-gateway':
      return {
        loud: false,
        kind: 'info',
        title: 'No gateway has reported lately.',
        text: 'Whether stdio servers run sandboxed is not known.',
      };
    case 'confined': {
      const noEgress = gateways.filter((g) => !g.sandbox.egress.ok);
      return {
        loud: false,
        kind: 'info',
        title: 'stdio servers run in a sandbox',
        text:
          `on ${gateways.length === 1 ? 'the gateway' : `all ${gateways.length} gateways`}, with no network unless a server allows egress.` +
          (noEgress.length ? ` Egress is unavailable on ${names(noEgress)}, so servers that need it cannot start there.` : ''),
      };
    }
  }
}
