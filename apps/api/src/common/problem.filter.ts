import { randomUUID } from 'node:crypto';
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { isPrismaError, PrismaErrorCode } from '@toolgate/db';
import type { Response } from 'express';
import { ErrorCode, Problem, type ProblemBody, titleFor } from './problem';

/**
 * Renders every error as application/problem+json. Prisma's known errors map to 409/404/400;
 * anything unexpected becomes a 500 with an errorId that is also logged.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('Problem');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const res = host.switchToHttp().getResponse<Response>();
    const problem = this.toProblem(exception);
    const body: ProblemBody = problem.body();
    if (body.status >= 500) {
      body.errorId = randomUUID();
      this.logger.error(`${body.errorId} ${(exception as Error)?.stack ?? String(exception)}`);
    }
    if (res.headersSent) return;
    for (const [k, v] of Object.entries(problem.extras.headers ?? {})) res.setHeader(k, v);
    res.status(body.status).type('application/problem+json').send(JSON.stringify(body));
  }

  private toProblem(e: unknown): Problem {
    if (e instanceof Problem) return e;
    if (isPrismaError(e, PrismaErrorCode.UniqueViolation)) {
      const fields = uniqueFields(e.meta);
      const what = fields.length ? fields.join(', ') : 'value';
      return Problem.conflict(
        `A record with this ${what} already exists`,
        fields.map((path) => ({ path, message: 'is already taken' })),
      );
    }
    if (isPrismaError(e, PrismaErrorCode.NotFound)) return Problem.notFound('Resource');
    if (isPrismaError(e, PrismaErrorCode.ForeignKeyViolation)) {
      return new Problem(400, ErrorCode.ValidationFailed, 'The request references a record that does not exist');
    }
    // body-parser errors (malformed JSON, too large, bad charset) carry a `type`; Nest's Express
    // adapter wraps them in an HttpException whose `cause` is the original.
    const bp = ((e instanceof HttpException && e.cause) || e) as { type?: string; status?: number; message?: string };
    if (bp?.type === 'entity.parse.failed') {
      return new Problem(400, ErrorCode.MalformedJson, 'The request body is not valid JSON');
    }
    if (bp?.type === 'entity.too.large') {
      return new Problem(413, ErrorCode.PayloadTooLarge, 'The request body is too large');
    }
    if (bp?.type === 'charset.unsupported' || bp?.type === 'encoding.unsupported') {
      return new Problem(415, ErrorCode.UnsupportedMediaType, bp.message ?? 'Unsupported encoding');
    }
    if (e instanceof HttpException) {
      const status = e.getStatus();
      const code =
        status === 401
          ? ErrorCode.Unauthenticated
          : status === 403
            ? ErrorCode.Forbidden
            : status === 404
              ? ErrorCode.NotFound
              : status === 429
                ? ErrorCode.RateLimited
                : status >= 500
                  ? ErrorCode.Internal
                  : ErrorCode.ValidationFailed;
      const detail = status === 404 ? 'No such route' : e.message || titleFor(status);
      return new Problem(status, code, detail);
    }
    return new Problem(500, ErrorCode.Internal, 'An unexpected error occurred');
  }
}

/**
 * The columns of a violated unique index, minus the tenant column (the org is the route, not a
 * field the person typed). Prisma names them in `meta.target`; through a driver adapter only the
 * index is named (`Organization_slug_key`, Prisma's `{Model}_{fields}_key`), so they are read
 * from that name.
 */
function uniqueFields(meta: Record<string, unknown> | undefined): string[] {
  const cause = (meta?.driverAdapterError as { cause?: { table?: string; constraint?: { fields?: string[]; index?: string } } })?.cause;
  const index = cause?.constraint?.index;
  const prefix = `${cause?.table}_`;
  const fromIndex = index?.startsWith(prefix) && index.endsWith('_key') ? index.slice(prefix.length, -'_key'.length).split('_') : [];
  const raw = meta?.target ?? cause?.constraint?.fields ?? fromIndex;
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  return list.map((f) => String(f).replace(/^"|"$/g, '')).filter((f) => f !== 'orgId');
}
