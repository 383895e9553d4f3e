/**
 * Notices a source that stops sending: one timer for a whole relay, not one per read. The
 * relay says when it starts waiting for the source and when a read came back; only time spent
 * waiting counts, so a client that is slow to pull never makes the source look idle.
 */
export class IdleWatchdog {
  private readonly ms: number;
  private readonly onIdle: () => void;
  private waitingSince: number | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(ms: number, onIdle: () => void) {
    this.ms = ms;
    this.onIdle = onIdle;
  }

  /** A read of the source is pending from now on. */
  waiting(): void {
    this.waitingSince = Date.now();
    if (this.timer === undefined && !this.stopped) this.arm(this.ms);
  }

  /** The pending read came back. The timer stays armed; it re-checks when it fires. */
  received(): void {
    this.waitingSince = null;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => this.check(), delayMs);
  }

  private check(): void {
    this.timer = undefined;
    if (this.stopped || this.waitingSince === null) return;
    const waited = Date.now() - this.waitingSince;
    if (waited >= this.ms) {
      this.stop();
      this.onIdle();
    } else {
      this.arm(this.ms - waited);
    }
  }
}
