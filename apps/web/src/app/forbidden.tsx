import Link from 'next/link';

export default function Forbidden() {
  return (
    <main className="auth-page" id="main">
      <div className="card" data-testid="forbidden">
        <h1>You do not have access to this page</h1>
        <p className="muted">Your role in this organisation does not include it. Ask an owner or admin if you need it.</p>
        <Link className="btn" href="/">
          Back to the dashboard
        </Link>
      </div>
    </main>
  );
}
