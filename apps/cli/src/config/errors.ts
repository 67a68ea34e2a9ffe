/** One thing wrong with a config file, where it is. */
export interface ConfigProblem {
  file: string;
  /** 1-based; 0 when the problem is the file as a whole. */
  line: number;
  col: number;
  /** Dotted path in the document (`servers.github.url`), empty for the file itself. */
  path: string;
  message: string;
}

/** A config file that cannot be served; every problem found, each with its file and line. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

/** `file:line:col: path: message`, the form editors and terminals link. */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  return `${where}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}
