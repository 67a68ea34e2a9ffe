'use client';

import Link from 'next/link';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { ClientSnippets } from '@/components/client-snippets';
import { SecretOnce } from '@/components/client-ui';

interface Shown {
  title: string;
  secret: string;
  /** Where the key that holds this secret lives (after a rotation: the new key). */
  href?: string;
}

const Ctx = createContext<(s: Shown) => void>(() => {});

/**
 * Shows a freshly issued secret in a modal, once. Lives above the table so that the dialog
 * survives the row it came from disappearing after `router.refresh()` (a rotated key leaves the
 * "active" filter). `org` and `endpoint` fill the client configs shown with the secret.
 */
export function SecretDialogProvider({ children, org, endpoint }: { children: ReactNode; org: string; endpoint: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [shown, setShown] = useState<Shown | null>(null);
  useEffect(() => {
    if (shown && !ref.current?.open) ref.current?.showModal();
  }, [shown]);
  const show = useCallback((s: Shown) => setShown(s), []);
  const close = () => {
    ref.current?.close();
    setShown(null);
  };
  return (
    <Ctx.Provider value={show}>
      {children}
      <dialog ref={ref} aria-labelledby="secret-dialog-title" onClose={() => setShown(null)} data-testid="secret-dialog">
        {shown ? (
          <div className="stack">
            <h2 id="secret-dialog-title">{shown.title}</h2>
            <SecretOnce label="This is the new secret key" value={shown.secret} />
            <ClientSnippets endpoint={endpoint} name={`toolgate-${org}`} secret={shown.secret} />
            <div className="row" style={{ justifyContent: 'flex-end' }}>
              {shown.href ? (
                <Link className="btn" href={shown.href} onClick={close}>
                  Open the new key
                </Link>
              ) : null}
              <button type="button" className="btn primary" onClick={close}>
                I have stored it
              </button>
            </div>
          </div>
        ) : null}
      </dialog>
    </Ctx.Provider>
  );
}

export const useShowSecret = () => useContext(Ctx);
