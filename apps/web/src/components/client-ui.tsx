'use client';

import { type ReactNode, useEffect, useRef, useState } from 'react';

export function CopyButton({ value, label = 'Copy' }: { value: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="btn small"
      aria-label={`${label}: ${value.length > 40 ? value.slice(0, 40) + '…' : value}`}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(value);
        } catch {
          // Clipboard refused (http, permissions): select-and-copy fallback.
          const t = document.createElement('textarea');
          t.value = value;
          document.body.appendChild(t);
          t.select();
          document.execCommand('copy');
          t.remove();
        }
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      }}
    >
      {copied ? 'Copied' : label}
    </button>
  );
}

/** A modal confirmation; `confirmText` makes the person type a word (e.g. the slug) first. */
export function ConfirmButton({
  children,
  title,
  body,
  confirmLabel = 'Confirm',
  confirmText,
  danger = true,
  disabled,
  onConfirm,
  className = 'btn',
}: {
  children: ReactNode;
  title: string;
  body?: ReactNode;
  confirmLabel?: string;
  confirmText?: string;
  danger?: boolean;
  disabled?: boolean;
  onConfirm: () => Promise<void> | void;
  className?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const onClose = () => {
      setTyped('');
      setError(null);
    };
    d.addEventListener('close', onClose);
    return () => d.removeEventListener('close', onClose);
  }, []);
  return (
    <>
      <button type="button" className={className} disabled={disabled} onClick={() => ref.current?.showModal()}>
        {children}
      </button>
      <dialog ref={ref} aria-labelledby={`${title}-t`}>
        <form
          method="dialog"
          className="stack"
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setError(null);
            try {
              await onConfirm();
              ref.current?.close();
            } catch (err) {
              setError(err instanceof Error ? err.message : 'Something went wrong.');
            } finally {
              setBusy(false);
            }
          }}
        >
          <h2 id={`${title}-t`}>{title}</h2>
          {body}
          {confirmText ? (
            <label className="field">
              <span>
                Type <code>{confirmText}</code> to confirm
              </span>
              <input value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />
            </label>
          ) : null}
          {error ? (
            <div className="notice error" role="alert">
              {error}
            </div>
          ) : null}
          <div className="row" style={{ justifyContent: 'flex-end' }}>
            <button type="button" className="btn" onClick={() => ref.current?.close()}>
              Cancel
            </button>
            <button
              type="submit"
              className={`btn ${danger ? 'danger' : 'primary'}`}
              disabled={busy || (!!confirmText && typed !== confirmText)}
            >
              {busy ? 'Working…' : confirmLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/** A secret shown exactly once, with a copy button and a warning. */
export function SecretOnce({ label, value, onDone }: { label: string; value: string; onDone?: () => void }) {
  return (
    <div className="stack" role="status">
      <div className="notice warn">
        <strong>{label}</strong> — copy it now. It will not be shown again.
      </div>
      <div className="secret-once">
        <code data-testid="secret-value" style={{ flex: 1 }}>
          {value}
        </code>
        <CopyButton value={value} />
      </div>
      {onDone ? (
        <div>
          <button type="button" className="btn" onClick={onDone}>
            I have stored it
          </button>
        </div>
      ) : null}
    </div>
  );
}
