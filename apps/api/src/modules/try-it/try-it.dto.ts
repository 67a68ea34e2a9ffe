import { TryItRequest } from '@toolgate/contracts';
import { z } from 'zod';

/**
 * The contract's request, with raw-JSON arguments parsed here so a typo in the fallback textarea
 * is a field error on `arguments` like any other.
 */
export const TryItDto = TryItRequest.transform((d, ctx) => {
  if (typeof d.arguments !== 'string') return { ...d, arguments: d.arguments };
  let parsed: unknown;
  try {
    parsed = JSON.parse(d.arguments.trim() === '' ? '{}' : d.arguments);
  } catch (e) {
    ctx.addIssue({ code: 'custom', path: ['arguments'], message: `is not valid JSON: ${(e as Error).message}` });
    return z.NEVER;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    ctx.addIssue({ code: 'custom', path: ['arguments'], message: 'must be a JSON object, e.g. {"message": "hi"}' });
    return z.NEVER;
  }
  return { ...d, arguments: parsed as Record<string, unknown> };
});
export type TryItInput = z.output<typeof TryItDto>;
