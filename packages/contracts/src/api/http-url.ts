import { z } from 'zod';

/**
 * An absolute http(s) URL (trimmed, at most `max` characters) without `user:password@` in it;
 * `credentials` is the error that says where credentials belong instead.
 */
export function httpUrl(max: number, credentials: string) {
  return z
    .string()
    .trim()
    .max(max, `must be at most ${max} characters`)
    .superRefine((s, ctx) => {
      let url: URL;
      try {
        url = new URL(s);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be an absolute http(s) URL' });
        return;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        ctx.addIssue({ code: 'custom', message: `must be an http(s) URL, not ${url.protocol.replace(/:$/, '')}` });
      } else if (url.username || url.password) {
        ctx.addIssue({ code: 'custom', message: credentials });
      }
    });
}

/** One problem with one field of a request, as the API's problem JSON lists it (`errors[]`). */
export interface FieldIssue {
  /** Dotted path, e.g. `headers.Authorization.value`. */
  path: string;
  message: string;
}
