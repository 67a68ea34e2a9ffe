import { HttpException } from '@nestjs/common';

/** Stable, documented error codes carried by every problem response (`code`). */
export enum ErrorCode {
  ValidationFailed = 'validation_failed',
  MalformedJson = 'malformed_json',
  PayloadTooLarge = 'payload_too_large',
  Unauthenticated = 'unauthenticated',
  InvalidCredentials = 'invalid_credentials',
  TokenExpired = 'token_expired',
  TokenReused = 'token_reused',
  /** A management token that was revoked, or whose person left its organization. */
  TokenRevoked = 'token_revoked',
  /** A management token whose scopes do not cover the route (the person's role might). */
  InsufficientScope = 'insufficient_scope',
  /** A service account token on a route that acts as a person (`/v1/me`, ...). */
  PersonRequired = 'person_required',
  /** A management token on a route that needs a signed-in session (creating orgs or tokens, accepting invitations). */
  SessionRequired = 'session_required',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  Conflict = 'conflict',
  LastOwner = 'last_owner',
  RateLimited = 'rate_limited',
  InvitationInvalid = 'invitation_invalid',
  PolicyInvalid = 'policy_invalid',
  ProbeFailed = 'probe_failed',
  /** A stdio command that is not one of the operator's allowed launchers (STDIO_ALLOWED_COMMANDS). */
  CommandNotAllowed = 'command_not_allowed',
  /** What the gateways report about themselves (Redis) cannot be read right now. */
  GatewayStatusUnavailable = 'gateway_status_unavailable',
  /** No gateway worker took a probe (none running, or Redis unreachable): probes run in the data plane. */
  ProbeUnavailable = 'probe_unavailable',
  /** Try it: the gateway could not be reached, or did not load the temporary key in time. */
  GatewayUnavailable = 'gateway_unavailable',
  /** Try it: the gateway reached no answer from the MCP server (down, crashed, timed out). */
  UpstreamUnavailable = 'upstream_unavailable',
  UnsupportedMediaType = 'unsupported_media_type',
  /** Billing: Stripe is not configured on this server (local ledger only). */
  BillingNotConfigured = 'billing_not_configured',
  /** Billing: the payment provider (Stripe) failed or refused the request. */
  PaymentProviderError = 'payment_provider_error',
  /** A webhook whose signature does not verify. */
  InvalidSignature = 'invalid_signature',
  Internal = 'internal_error',
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export interface FieldError {
  /** JSON pointer-ish path, e.g. `rules.tools.0.match`. */
  path: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: FieldError[];
  errorId?: string;
  [extra: string]: unknown;
}

/** RFC 9457 problem details. Throw this anywhere; the global filter renders it. */
export class Problem extends HttpException {
  constructor(
    status: number,
    readonly code: ErrorCode,
    detail: string,
    readonly extras: { errors?: FieldError[]; headers?: Record<string, string>; [k: string]: unknown } = {},
  ) {
    super(detail, status);
  }

  body(): ProblemBody {
    const { headers: _headers, ...rest } = this.extras;
    return {
      type: `https://toolgate.dev/problems/${this.code}`,
      title: TITLES[this.getStatus()] ?? 'Error',
      status: this.getStatus(),
      detail: this.message,
      code: this.code,
      ...rest,
    };
  }

  static notFound(what: string): Problem {
    return new Problem(404, ErrorCode.NotFound, `${what} not found`);
  }
  static forbidden(detail = 'Your role does not allow this action'): Problem {
    return new Problem(403, ErrorCode.Forbidden, detail);
  }
  /** `errors` names the field holding the taken value, so a form can mark it. */
  static conflict(detail: string, errors?: FieldError[]): Problem {
    return new Problem(409, ErrorCode.Conflict, detail, errors ? { errors } : {});
  }
  static unauthenticated(detail = 'Authentication required', code = ErrorCode.Unauthenticated): Problem {
    return new Problem(401, code, detail);
  }
  static validation(errors: FieldError[], detail?: string): Problem {
    return new Problem(400, ErrorCode.ValidationFailed, detail ?? summarize(errors), { errors });
  }
}

function summarize(errors: FieldError[]): string {
  const first = errors[0];
  if (!first) return 'The request is invalid';
  const head = first.path ? `${first.path}: ${first.message}` : first.message;
  return errors.length > 1 ? `${head} (and ${errors.length - 1} more)` : head;
}

export function titleFor(status: number): string {
  return TITLES[status] ?? 'Error';
}
