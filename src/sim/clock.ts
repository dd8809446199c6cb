/**
 * The local cloud's clock: simulated time that runs at `speed` times real time and can be
 * advanced by hand. Every delay in the local cloud (boot, convergence, DNS sync, spot
 * interruption, token bucket refill) is measured on this clock, so a test or a benchmark can
 * run a night of simulated time in seconds and report simulated seconds.
 */

/** The last instant a Date can hold (±8.64e15 ms): simulated time never goes past it. */
export const MAX_SIM_TIME = 8.64e15;
/** Fastest a clock runs: a million times real time. */
export const MAX_SPEED = 1_000_000;

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export class SimClock {
  #speed: number;
  #baseSim: number;
  #baseReal: number;
  #timers: Timer[] = [];
  #seq = 0;
  #handle: NodeJS.Timeout | undefined;
  readonly #realNow: () => number;

  constructor(opts: { speed?: number; start?: number; realNow?: () => number } = {}) {
    this.#realNow = opts.realNow ?? (() => performance.timeOrigin + performance.now());
    this.#speed = checkSpeed(opts.speed ?? 1);
    this.#baseReal = this.#realNow();
    this.#baseSim = opts.start ?? Date.now();
  }

  /** Simulated epoch milliseconds. */
  now(): number {
    return Math.min(MAX_SIM_TIME, this.#baseSim + (this.#realNow() - this.#baseReal) * this.#speed);
  }

  nowIso(): string {
    return new Date(Math.floor(this.now())).toISOString();
  }

  get speed(): number {
    return this.#speed;
  }

  /** Change how fast simulated time runs relative to real time (1 = real time). */
  setSpeed(speed: number): void {
    const now = this.now();
    this.#speed = checkSpeed(speed);
    this.#baseSim = now;
    this.#baseReal = this.#realNow();
    this.#arm();
  }

  /** Jump simulated time forward; due timers fire in order. */
  advance(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`advance: ms must be a finite number >= 0, got ${ms}`);
    // Checked before anything moves: a refused jump leaves the clock as it was.
    if (this.now() + ms > MAX_SIM_TIME) throw new RangeError(`advance: ${ms} ms would take the clock past the last date there is (${new Date(MAX_SIM_TIME).toISOString()})`);
    this.#baseSim += ms;
    this.#fireDue();
    this.#arm();
  }

  /** Run `fn` when simulated time reaches `at` (epoch ms). Returns a cancel function. */
  at(at: number, fn: () => void): () => void {
    const t: Timer = { at, seq: this.#seq++, fn };
    // Keep sorted by (at, seq); timers are few (spot interruptions, not per-instance life).
    let i = this.#timers.length;
    while (i > 0 && this.#timers[i - 1]!.at > at) i--;
    this.#timers.splice(i, 0, t);
    this.#arm();
    return () => {
      const k = this.#timers.indexOf(t);
      if (k >= 0) this.#timers.splice(k, 1);
      this.#arm();
    };
  }

  /** Run `fn` after `ms` simulated milliseconds. */
  after(ms: number, fn: () => void): () => void {
    return this.at(this.now() + ms, fn);
  }

  /** Resolve after `ms` simulated milliseconds (real wait is ms / speed). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  /** Cancel all timers (on close). */
  stop(): void {
    this.#timers = [];
    if (this.#handle) clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  #fireDue(): void {
    const now = this.now();
    while (this.#timers.length > 0 && this.#timers[0]!.at <= now) {
      const t = this.#timers.shift()!;
      try {
        t.fn();
      } catch (err) {
        // A timer's failure must not stop the clock; surface it on stderr.
        process.emitWarning(`local cloud timer failed: ${String(err)}`);
      }
    }
  }

  #arm(): void {
    if (this.#handle) clearTimeout(this.#handle);
    this.#handle = undefined;
    const next = this.#timers[0];
    if (!next) return;
    const realDelay = Math.max(0, (next.at - this.now()) / this.#speed);
    this.#handle = setTimeout(() => {
      this.#handle = undefined;
      this.#fireDue();
      this.#arm();
    }, Math.min(realDelay, 2 ** 31 - 1));
    this.#handle.unref();
  }
}

function checkSpeed(speed: number): number {
  if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`clock speed must be a finite number > 0, got ${speed}`);
  if (speed > MAX_SPEED) throw new RangeError(`clock speed must be at most ${MAX_SPEED}, got ${speed}`);
  return speed;
}
