/**
 * Bounded waiting shared by both coordinators: a deadline, the caller's signal, and close().
 * Time and timers come from the injected clock (default: the system clock), so a lock's
 * `--wait` deadline runs on simulated time in tests.
 */
import { MAX_TIMER_MS, systemClock } from '../clock.js';
import type { TimerClock } from '../ports.js';

/** The reason a Wait's signal carries when its deadline passed. */
export const DEADLINE = Symbol('deadline');

export class Wait {
  readonly startedAt: number;
  /** Absolute ms epoch; Infinity when unbounded. */
  readonly deadlineAt: number;
  readonly signal: AbortSignal;
  readonly #clock: TimerClock;
  /** Ends the deadline's sleep on dispose. */
  readonly #disposed = new AbortController();

  constructor(deadlineMs: number | undefined, signals: (AbortSignal | undefined)[], clock: TimerClock = systemClock) {
    if (deadlineMs !== undefined && !(deadlineMs >= 0)) throw new RangeError(`deadlineMs must be >= 0, got ${deadlineMs}`);
    this.#clock = clock;
    const now = clock.now().getTime();
    this.startedAt = now;
    // Beyond what a timer can hold (about 24.8 days) is as good as forever.
    this.deadlineAt = deadlineMs === undefined || deadlineMs > MAX_TIMER_MS ? Infinity : now + deadlineMs;
    const all = signals.filter((s): s is AbortSignal => s !== undefined);
    if (this.deadlineAt !== Infinity) {
      const ctl = new AbortController();
      // A zero deadline means "try once": the attempt itself is not aborted, only the wait after it.
      if (deadlineMs! > 0) clock.sleep(deadlineMs!, this.#disposed.signal).then(() => ctl.abort(DEADLINE), () => undefined);
      all.push(ctl.signal);
    }
    this.signal = all.length === 1 ? all[0]! : AbortSignal.any(all);
  }

  #now(): number {
    return this.#clock.now().getTime();
  }

  get waitedMs(): number {
    return this.#now() - this.startedAt;
  }

  /** True when the deadline (not the caller or close) ended the wait. */
  get timedOut(): boolean {
    return (this.signal.aborted && this.signal.reason === DEADLINE) || (!this.signal.aborted && this.#now() >= this.deadlineAt);
  }

  /** True when no more waiting is allowed: aborted, or past the deadline. */
  get over(): boolean {
    return this.signal.aborted || this.#now() >= this.deadlineAt;
  }

  /** Throw the reason the wait is over, if it is: the caller's or close()'s reason, or DEADLINE. */
  check(): void {
    if (this.signal.aborted) throw this.signal.reason;
    if (this.#now() >= this.deadlineAt) throw DEADLINE;
  }

  remainingMs(): number {
    return Math.max(0, this.deadlineAt - this.#now());
  }

  dispose(): void {
    this.#disposed.abort();
  }
}

/** Resolves after `ms` (on `clock`) or when `signal` aborts, whichever comes first; never rejects. */
export function pause(ms: number, signal?: AbortSignal, clock: TimerClock = systemClock): Promise<void> {
  return clock.sleep(Math.min(ms, MAX_TIMER_MS), signal).catch(() => undefined);
}

/** A promise with its resolve function outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A holder's `since`: wall-clock time on purpose, not the injected clock. It is read by other
 * processes (`fleet locks`, a refused operator) that may run on other clocks (a faster local
 * cloud's, or none), and shown to people; only waits and deadlines run on the injected clock.
 */
export function wallTime(): string {
  return new Date().toISOString();
}
