/** Bounded waiting shared by both coordinators: a deadline, the caller's signal, and close(). */

/** The reason a Wait's signal carries when its deadline passed. */
export const DEADLINE = Symbol('deadline');

const MAX_TIMER_MS = 2_147_483_647;

export class Wait {
  readonly startedAt: number;
  /** Absolute ms epoch; Infinity when unbounded. */
  readonly deadlineAt: number;
  readonly signal: AbortSignal;
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(deadlineMs: number | undefined, signals: (AbortSignal | undefined)[], now = Date.now()) {
    if (deadlineMs !== undefined && !(deadlineMs >= 0)) throw new RangeError(`deadlineMs must be >= 0, got ${deadlineMs}`);
    this.startedAt = now;
    // Beyond what a timer can hold (about 24.8 days) is as good as forever.
    this.deadlineAt = deadlineMs === undefined || deadlineMs > MAX_TIMER_MS ? Infinity : now + deadlineMs;
    const all = signals.filter((s): s is AbortSignal => s !== undefined);
    if (this.deadlineAt !== Infinity) {
      const ctl = new AbortController();
      // A zero deadline means "try once": the attempt itself is not aborted, only the wait after it.
      if (deadlineMs! > 0) this.#timer = setTimeout(() => ctl.abort(DEADLINE), deadlineMs);
      all.push(ctl.signal);
    }
    this.signal = all.length === 1 ? all[0]! : AbortSignal.any(all);
  }

  get waitedMs(): number {
    return Date.now() - this.startedAt;
  }

  /** True when the deadline (not the caller or close) ended the wait. */
  get timedOut(): boolean {
    return (this.signal.aborted && this.signal.reason === DEADLINE) || (!this.signal.aborted && Date.now() >= this.deadlineAt);
  }

  /** True when no more waiting is allowed: aborted, or past the deadline. */
  get over(): boolean {
    return this.signal.aborted || Date.now() >= this.deadlineAt;
  }

  /** Throw the reason the wait is over, if it is: the caller's or close()'s reason, or DEADLINE. */
  check(): void {
    if (this.signal.aborted) throw this.signal.reason;
    if (Date.now() >= this.deadlineAt) throw DEADLINE;
  }

  remainingMs(): number {
    return Math.max(0, this.deadlineAt - Date.now());
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
  }
}

/** Resolves after `ms` or when `signal` aborts, whichever comes first; never rejects. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A promise with its resolve function outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
