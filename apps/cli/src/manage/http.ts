import { CliError, EXIT, type ExitCode } from '../exit-codes';

/** The API's RFC 9457 problem body (apps/api common/problem.ts), as far as the CLI reads it. */
interface Problem {
  status?: number;
  title?: string;
  detail?: string;
  code?: string;
  errors?: { path: string; message: string }[];
}

type Query = Record<string, string | number | boolean | undefined>;

/** The exit code an API status means (see exit-codes.ts). */
export function exitCodeFor(status: number): ExitCode {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 400 || status === 409 || status === 413 || status === 415 || status === 422) return EXIT.usage;
  return EXIT.failed;
}

/** A small client of the control plane's `/v1` API: bearer token in, JSON or a CliError out. */
export class ApiClient {
  constructor(
    readonly base: string,
    private readonly token: string,
  ) {}

  get<T>(path: string, query?: Query): Promise<T> {
    return this.json<T>('GET', path, undefined, query);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.json<T>('POST', path, body ?? {});
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('PUT', path, body);
  }
  delete(path: string, query?: Query): Promise<void> {
    return this.json<void>('DELETE', path, undefined, query);
  }

  /** The response itself, for a streamed body (the audit export); problems still become CliErrors. */
  async stream(path: string, query?: Query): Promise<Response> {
    return this.send('GET', path, undefined, query);
  }

  private async json<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const res = await this.send(method, path, body, query);
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`${method} ${path}: the API answered ${res.status} with a body that is not JSON`, EXIT.failed);
    }
  }

  private async send(method: string, path: string, body: unknown, query?: Query): Promise<Response> {
    const url = new URL(`${this.base.replace(/\/+$/, '')}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          Accept: 'application/json, application/problem+json, application/x-ndjson',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach the API at ${this.base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, EXIT.failed, {
        code: 'unreachable',
      });
    }
    if (!res.ok) throw await problemError(method, path, res);
    return res;
  }
}

/** A failed response as a CliError: the problem's detail and field errors, the exit code its status means. */
async function problemError(method: string, path: string, res: Response): Promise<CliError> {
  const text = await res.text().catch(() => '');
  let p: Problem = {};
  try {
    p = JSON.parse(text) as Problem;
  } catch {
    // Not problem JSON (a proxy's error page): the status line is all there is.
  }
  const what = p.detail ?? p.title ?? (text.slice(0, 200) || res.statusText);
  // The detail often is the first field error already: list only what it does not say.
  const fields = (p.errors ?? [])
    .map((e) => `${e.path || '(body)'}: ${e.message}`)
    .filter((line) => !what.includes(line))
    .map((line) => `\n  ${line}`)
    .join('');
  return new CliError(`${what}${fields}`, exitCodeFor(res.status), {
    status: res.status,
    code: p.code ?? null,
    ...(p.errors ? { errors: p.errors } : {}),
    request: `${method} ${path}`,
  });
}
