/**
 * The fake's clock: real time multiplied by `scale`, plus manual advances. AWS Batch counts
 * in seconds and minutes (attempt timeouts of at least 60 s, a 30 s stop timeout, scheduling
 * delays); tests run the same rules in milliseconds by scaling time, or stop it (scale 0) and
 * move it by hand with advance(), which makes a time rule fire exactly when the test says.
 */
export class FakeClock {
  private readonly origin = Date.now();
  /** Fake time at the last change of scale. */
  private base = this.origin;
  /** Real time at the last change of scale. */
  private realBase = this.origin;
  private scale: number;
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;
  private armed: NodeJS.Timeout | undefined;
  private firing = false;
  private stopped = false;

  /** @param scale - fake milliseconds per real millisecond; 0 stops time (advance() moves it) */
  constructor(scale: number) {
    if (!(scale >= 0)) throw new Error(`FakeClock scale must be >= 0, not ${scale}`);
    this.scale = scale;
  }

  /** Fake epoch milliseconds. */
  now(): number {
    return Math.floor(this.base + (Date.now() - this.realBase) * this.scale);
  }

  /** Current scale (0 = stopped). */
  get timeScale(): number {
    return this.scale;
  }

  /** Changes how fast fake time runs from now on (0 stops it). */
  setScale(scale: number): void {
    if (!(scale >= 0)) throw new Error(`FakeClock scale must be >= 0, not ${scale}`);
    this.base = this.now();
    this.realBase = Date.now();
    this.scale = scale;
    this.fire();
  }

  /** Moves fake time forward and runs every timer that became due, in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`FakeClock.advance needs ms >= 0, not ${ms}`);
    this.base += ms;
    this.fire();
  }

  /**
   * Runs `fn` once fake time reaches now + `ms`.
   * @returns a function that cancels the timer
   */
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.now() + Math.max(0, ms), seq: ++this.seq, fn };
    this.timers.push(timer);
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    // A timer due now runs on the next turn, never inside the caller's own code.
    this.arm();
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
      this.arm();
    };
  }

  /** Drops every timer; nothing fires after this. */
  stop(): void {
    this.stopped = true;
    this.timers = [];
    if (this.armed) clearTimeout(this.armed);
    this.armed = undefined;
  }

  private fire(): void {
    if (this.firing || this.stopped) return;
    this.firing = true;
    try {
      for (;;) {
        const next = this.timers[0];
        if (!next || next.at > this.now()) break;
        this.timers.shift();
        next.fn();
      }
    } finally {
      this.firing = false;
    }
    this.arm();
  }

  private arm(): void {
    if (this.armed) clearTimeout(this.armed);
    this.armed = undefined;
    const next = this.timers[0];
    if (!next || this.stopped) return;
    const due = next.at - this.now();
    if (due > 0 && this.scale === 0) return;
    this.armed = setTimeout(() => this.fire(), due <= 0 ? 0 : Math.ceil(due / this.scale));
  }
}
