import { type FSWatcher, watch } from 'node:fs';
import path from 'node:path';

/**
 * Calls `onChange` once per burst of changes to any of `files` (editors write a temp file and
 * rename it over the original, so the directories are watched, not the files). A burst settles
 * after `settleMs`; `set` replaces the files watched (a new secrets file).
 */
export class ConfigWatcher {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  private names = new Set<string>();

  constructor(
    private readonly onChange: () => void,
    private readonly settleMs = 100,
  ) {}

  set(files: readonly string[]): void {
    this.close();
    this.names = new Set(files.map((f) => path.resolve(f)));
    for (const dir of new Set(files.map((f) => path.dirname(path.resolve(f))))) {
      const w = watch(dir, (_event, name) => {
        if (name && this.names.has(path.join(dir, name.toString()))) this.changed();
      });
      w.on('error', () => undefined);
      this.watchers.push(w);
    }
  }

  private changed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.onChange();
    }, this.settleMs);
  }

  close(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
