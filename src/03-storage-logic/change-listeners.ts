/** Callbacks for "jobs may have changed", shared by the backends. */
export class ChangeListeners {
  private readonly listeners = new Set<() => void>();
  private emitQueued = false;

  get size(): number {
    return this.listeners.size;
  }

  add(listener: () => void): void {
    this.listeners.add(listener);
  }

  /** Returns whether any listener is left. */
  remove(listener: () => void): boolean {
    this.listeners.delete(listener);
    return this.listeners.size > 0;
  }

  clear(): void {
    this.listeners.clear();
  }

  /** For another process's change: tell everyone now. */
  emit(): void {
    for (const l of this.listeners) l();
  }

  /** For this process's own writes: once per tick, however many writes it made. */
  emitSoon(): void {
    if (this.listeners.size === 0 || this.emitQueued) return;
    this.emitQueued = true;
    queueMicrotask(() => {
      this.emitQueued = false;
      this.emit();
    });
  }
}
