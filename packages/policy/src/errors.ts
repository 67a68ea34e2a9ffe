/**
 * Why a snapshot could not be compiled. The API turns these into a 422 problem whose detail is
 * `message`, so every message names the offending record (role, server, secret, key).
 */
export type PolicyCompileErrorCode =
  /** A role's stored rules do not parse as RoleRules (or hold an unusable CIDR). */
  | 'invalid_role_rules'
  /** An enabled server's headers/env reference a secret the org does not have. */
  | 'missing_secret'
  /** An enabled server's headers/env are not records of {value} | {secret}. */
  | 'invalid_server'
  /** Two records that must be unique are not (server slugs, key hashes). */
  | 'duplicate'
  /** Anything else the final PolicySnapshot.parse rejects (bad hash, sealed value, version...). */
  | 'invalid_snapshot';

export class PolicyCompileError extends Error {
  override readonly name = 'PolicyCompileError';

  constructor(
    readonly code: PolicyCompileErrorCode,
    message: string,
    /** Machine-readable context, e.g. `{ server: 'github', secret: 'GITHUB_TOKEN' }`. */
    readonly details: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The part of a zod error we need, typed structurally (this package does not depend on zod). */
interface IssueList {
  readonly issues: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>;
}

/** `tools[2].match: may only contain ...; ipAllow[0]: must be ...` */
export function formatIssues(error: IssueList, limit = 5): string {
  const shown = error.issues.slice(0, limit).map((issue) => {
    const path = formatPath(issue.path);
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  const more = error.issues.length - shown.length;
  return more > 0 ? `${shown.join('; ')} (and ${more} more)` : shown.join('; ');
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}
