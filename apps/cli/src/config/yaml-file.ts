import { readFileSync } from 'node:fs';
import { type Document, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type ConfigProblem, ConfigError } from './errors';
import { locate } from './locate';

/** A YAML file parsed with positions, so later checks can name the line of what they refuse. */
export interface YamlFile {
  file: string;
  doc: Document;
  lines: LineCounter;
  /** The document as plain data (`{}` for an empty file). */
  data: unknown;
}

/** Reads and parses `file`; throws ConfigError (file, line) when it cannot be read or is not valid YAML. */
export function readYamlFile(file: string, abs = file): YamlFile {
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file, line: 0, col: 0, path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  for (const err of [...doc.errors, ...doc.warnings]) {
    const pos = lines.linePos(err.pos[0]);
    problems.push({ file, line: pos.line, col: pos.col, path: '', message: err.message.split('\n')[0]! });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { file, doc, lines, data: doc.toJS() ?? {} };
}

/** A problem at `path` in the document, on the line where that path is written. */
export function problemAt(y: YamlFile, path: readonly PropertyKey[], message: string, where: 'value' | 'key' = 'value'): ConfigProblem {
  return { file: y.file, ...locate(y.doc, y.lines, path, where), path: path.map(String).join('.'), message };
}

/** Every zod issue as a located problem; `base` is where the validated value sits in the document. */
export function schemaProblems(y: YamlFile, error: z.ZodError, base: readonly PropertyKey[] = []): ConfigProblem[] {
  return error.issues.map((issue) => {
    // An unknown field is reported where it is written, not at its parent.
    if (issue.code === 'unrecognized_keys') return problemAt(y, [...base, ...issue.path, issue.keys[0]!], describeIssue(issue), 'key');
    return problemAt(y, [...base, ...issue.path], describeIssue(issue), issue.code === 'invalid_key' ? 'key' : 'value');
  });
}

/** A zod issue in words a config author acts on. */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'is required';
  if (issue.code === 'invalid_key')
    return `"${String(issue.path.at(-1))}" is not a valid name: ${issue.issues.map((i) => i.message).join('; ')}`;
  return issue.message;
}
