import { CliError, EXIT, type ExitCode } from '../exit-codes';

/**
 * Where a command's answer goes: with `--json` one JSON document on stdout (errors too, as
 * `{"error": …}`), otherwise lines for a person; diagnostics always on stderr.
 */
export class Output {
  constructor(readonly json: boolean) {}

  /** The command's result: `data` as JSON, or what `human` renders. */
  result(data: unknown, human: () => string): void {
    if (this.json) process.stdout.write(`${JSON.stringify(data)}\n`);
    else {
      const text = human();
      if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  /** A line for a person only (progress, the "shown once" warning); never on the JSON stdout. */
  note(text: string): void {
    process.stderr.write(`${text}\n`);
  }

  /** Reports a failure and returns its exit code; anything but a CliError is a bug and keeps its stack. */
  error(e: unknown): ExitCode {
    const err = e instanceof CliError ? e : null;
    const message = err ? err.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
    const exitCode = err?.exitCode ?? EXIT.failed;
    process.stderr.write(`toolgate: ${message}\n`);
    if (this.json)
      process.stdout.write(`${JSON.stringify({ error: { message: err?.message ?? String(e), exitCode, ...err?.details } })}\n`);
    return exitCode;
  }
}

/** Rows as aligned columns under a header; `-` for empty cells. */
export function table(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
