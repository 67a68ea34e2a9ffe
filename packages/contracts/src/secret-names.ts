/** Org secret names look like environment variables, so a server can map them 1:1 (`GITHUB_TOKEN`). */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const SECRET_NAME_MESSAGE = 'must start with a letter or "_" and contain only letters, digits and "_" (at most 128 characters)';

/** Header and environment names whose literal values are credentials (`Authorization`, `X-Api-Key`, `GITHUB_TOKEN`, …). */
const SENSITIVE_NAME = /auth|token|key|secret|cookie|passw|credential/i;
export const isSensitiveName = (name: string): boolean => SENSITIVE_NAME.test(name);
