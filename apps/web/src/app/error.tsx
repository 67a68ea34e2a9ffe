'use client';

export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  // Server errors arrive with their message stripped in production; show a human sentence.
  const message = error.message && !error.message.startsWith('An error occurred in the Server Components') ? error.message : null;
  return (
    <div className="card" role="alert" data-testid="error-page">
      <h1>Something went wrong</h1>
      <p className="muted">{message ?? 'The page could not be loaded. The API may be unavailable; try again in a moment.'}</p>
      {error.digest ? <p className="small muted">Reference: {error.digest}</p> : null}
      <button type="button" className="btn primary" onClick={reset}>
        Try again
      </button>
    </div>
  );
}
