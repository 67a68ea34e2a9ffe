'use client';

import { type ReactNode, useEffect, useState } from 'react';
import { Notice } from './ui';

/**
 * A one-time message carried in the URL (`?created=1` after a redirect). It drops its parameter
 * from the address at once, so a reload does not say it again, and hides as soon as the person
 * edits anything on the page: next to a form's own "Saved." it was a second, stale message.
 */
export function FlashNotice({ param, kind = 'ok', children }: { param: string; kind?: 'ok' | 'info'; children: ReactNode }) {
  const [shown, setShown] = useState(true);
  useEffect(() => {
    const url = new URL(window.location.href);
    if (url.searchParams.has(param)) {
      url.searchParams.delete(param);
      window.history.replaceState(window.history.state, '', url);
    }
    const hide = () => setShown(false);
    document.addEventListener('input', hide, { once: true });
    return () => document.removeEventListener('input', hide);
  }, [param]);
  return shown ? <Notice kind={kind}>{children}</Notice> : null;
}
