/** RFC 9457 problem details as the API sends them. */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  errors?: { path: string; message: string }[];
  [extra: string]: unknown;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(humanize(problem));
    this.name = 'ApiError';
  }
  get status(): number {
    return this.problem.status;
  }
}

/** Turns a problem into a sentence a person understands. */
export function humanize(p: Problem): string {
  switch (p.code) {
    case 'invalid_credentials':
      return 'That email and password do not match an account.';
    case 'rate_limited':
      return 'Too many attempts. Wait a few minutes and try again.';
    case 'last_owner':
      return p.detail ?? 'An organisation must keep at least one owner.';
    case 'forbidden':
      return 'Your role in this organisation does not allow this.';
    case 'token_expired':
    case 'unauthenticated':
      return 'Your session has ended. Log in again.';
    case 'api_unavailable':
      return p.detail ?? 'The Toolgate API cannot be reached right now.';
  }
  if (p.errors?.length) {
    return p.errors.map((e) => (e.path ? `${fieldLabel(e.path)}: ${e.message}` : e.message)).join('. ');
  }
  if (p.detail) return p.detail;
  if (p.status >= 500) return 'Something went wrong on our side. Try again in a moment.';
  return p.title ?? 'The request failed.';
}

function fieldLabel(path: string): string {
  const last =
    path
      .split('.')
      .filter((s) => !/^\d+$/.test(s))
      .pop() ?? path;
  return last.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());
}

/** Reads a failed response as a problem, whatever it actually carried. */
export async function readProblem(res: Response): Promise<Problem> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Partial<Problem>;
    if (body && typeof body === 'object') return { ...body, status: res.status } as Problem;
  } catch {
    // not JSON: fall through
  }
  return { status: res.status, title: res.statusText, detail: res.status >= 500 ? undefined : text.slice(0, 200) || undefined };
}
