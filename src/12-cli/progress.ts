const WIDTH = 30;

/** A one-line bar on stderr, redrawn in place. Shown only on a terminal, so logs and pipes stay clean. */
export class ProgressBar {
  private readonly isShown: boolean;
  private lastDrawn = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.isShown = stream.isTTY === true && total > 0;
  }

  update(done: number): void {
    if (!this.isShown) return;
    // Redrawing more than a few times a second only makes the terminal flicker.
    const now = Date.now();
    if (done < this.total && now - this.lastDrawn < 100) return;
    this.lastDrawn = now;
    const ratio = Math.min(1, done / this.total);
    const filled = Math.round(ratio * WIDTH);
    this.stream.write(`\r${this.label} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${done}/${this.total}`);
  }

  done(): void {
    if (this.isShown && this.lastDrawn > 0) this.stream.write("\n");
  }
}
