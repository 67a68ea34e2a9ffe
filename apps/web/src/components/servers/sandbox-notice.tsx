import { Notice } from '@/components/ui';
import { sandboxNote } from './sandbox';
import type { SandboxView } from '@toolgate/contracts';

/** The sandbox state on the servers pages: a banner when tenant code is unconfined or cannot start, a quiet line otherwise. */
export function SandboxNotice({ sandbox }: { sandbox: SandboxView | null }) {
  if (!sandbox) return null;
  const note = sandboxNote(sandbox);
  if (note.loud) {
    return (
      <div data-testid="sandbox-banner" data-summary={sandbox.summary}>
        <Notice kind={note.kind}>
          <strong>{note.title}</strong> {note.text}
        </Notice>
      </div>
    );
  }
  return (
    <p className="muted small" data-testid="sandbox-note" data-summary={sandbox.summary} style={{ margin: '0 0 12px' }}>
      {note.title} {note.text}
    </p>
  );
}
