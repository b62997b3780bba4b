import { existsSync, watch, type FSWatcher } from "node:fs";

/**
 * Other processes' commits append to the WAL file: an inotify watch on it wakes idle workers within a fraction
 * of a millisecond, with no polling. Callers keep a slow poll as the fallback (network file systems, rare misses).
 */
export class WalWatch {
  private watcher: FSWatcher | null = null;

  constructor(
    private readonly file: string,
    private readonly onCommit: () => void,
  ) {}

  start(): void {
    if (this.watcher || this.file === ":memory:") return;
    const wal = `${this.file}-wal`;
    if (!existsSync(wal)) return;
    try {
      this.watcher = watch(wal, { persistent: false }, () => {
        this.onCommit();
      });
      this.watcher.on("error", () => {
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      this.watcher = null;
    }
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = null;
  }
}
