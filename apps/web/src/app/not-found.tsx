import Link from 'next/link';

export default function NotFound() {
  return (
    <main className="auth-page" id="main">
      <div className="card" data-testid="not-found">
        <h1>Page not found</h1>
        <p className="muted">It may have been deleted, or you are not a member of the organisation it belongs to.</p>
        <Link className="btn" href="/">
          Back to the dashboard
        </Link>
      </div>
    </main>
  );
}
