import { ANY_RUN, type Pattern } from './glob';

/**
 * Past this many tokens a template's tail counts as "anything": it bounds the cost of matching a
 * catalogue an upstream controls, and only widens what the template is taken to expand to.
 */
const MAX_TOKENS = 1024;

/**
 * An RFC 6570 URI template as a Pattern: literal characters match themselves and every `{…}`
 * expression (whatever its operator) any run of characters, empty included. An unterminated `{`
 * runs to the end. Over-approximates the URIs the template expands to, never under.
 */
export function templatePattern(template: string): Pattern {
  const out: number[] = [];
  for (let i = 0; i < template.length; i++) {
    if (out.length >= MAX_TOKENS) {
      out.push(ANY_RUN);
      break;
    }
    const c = template.charCodeAt(i);
    if (c !== 0x7b /* { */) {
      out.push(c);
      continue;
    }
    if (out[out.length - 1] !== ANY_RUN) out.push(ANY_RUN);
    const close = template.indexOf('}', i + 1);
    if (close === -1) break;
    i = close;
  }
  return out;
}
