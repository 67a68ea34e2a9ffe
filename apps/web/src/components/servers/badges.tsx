import { Badge } from '@/components/ui';
import type { ServerHealth as Health } from '@toolgate/contracts';

/** Health as the last probe left it. */
export function HealthBadge({ health }: { health: Health }) {
  if (health === 'ok') return <Badge kind="ok">Healthy</Badge>;
  if (health === 'error') return <Badge kind="danger">Probe failed</Badge>;
  return <Badge>Not probed</Badge>;
}

export function EnabledBadge({ enabled }: { enabled: boolean }) {
  return enabled ? <Badge kind="info">Enabled</Badge> : <Badge kind="warn">Disabled</Badge>;
}
