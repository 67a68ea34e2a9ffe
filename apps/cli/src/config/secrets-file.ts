import { readFileSync } from 'node:fs';
import type { ConfigProblem } from './errors';

/**
 * A secrets file: `NAME=value` per line, `#` comments and blank lines ignored, the value taken
 * as written after the first `=` (no quoting rules to get wrong). Kept out of the YAML so the
 * YAML can be committed and shared.
 */
export function readSecretsFile(file: string, problems: ConfigProblem[]): Map<string, string> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    problems.push({ file, line: 0, col: 0, path: '', message: `cannot read the secrets file: ${(e as Error).message}` });
    return out;
  }
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const name = eq > 0 ? line.slice(0, eq).trim() : '';
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
      problems.push({ file, line: i + 1, col: 1, path: '', message: 'expected NAME=value' });
      return;
    }
    out.set(name, line.slice(eq + 1));
  });
  return out;
}
