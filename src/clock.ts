/**
 * Clocks (the TimerClock port of src/ports.ts): the system clock, and a manual clock whose
 * time moves only when told (tests: a lock's `--wait` deadline, a wait for convergence, run on
 * simulated time without sleeping). ops/clock.ts adds the scaled clock of a faster local cloud.
 */
import type { TimerClock } from './ports.js';

/** Beyond what a Node timer can hold (about 24.8 days) is as good as forever. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Real time and real timers. */
export const systemClock: TimerClock = {
  now: () => new Date(),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal!.reason);
      };
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};

/** A clock that moves only when `advance` is called; sleepers wake in time order. */
export interface ManualClock extends TimerClock {
  /** Move time forward by `ms`, waking every sleeper due by then (in order of their wake time). */
  advance(ms: number): void;
  /** Sleepers not woken yet. */
  readonly sleepers: number;
  /** Resolves when someone next starts a sleep (or at once if `atLeast` sleepers already wait). */
  sleeping(atLeast?: number): Promise<void>;
}

export function manualClock(start: Date | number = Date.UTC(2026, 0, 1)): ManualClock {
  let now = typeof start === 'number' ? start : start.getTime();
  let seq = 0;
  const timers: { at: number; seq: number; wake: () => void }[] = [];
  const watchers: { atLeast: number; resolve: () => void }[] = [];
  const notify = () => {
    for (let i = watchers.length - 1; i >= 0; i--) {
      if (timers.length >= watchers[i]!.atLeast) {
        watchers[i]!.resolve();
        watchers.splice(i, 1);
      }
    }
  };
  return {
    now: () => new Date(now),
    sleep(ms, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const t = {
          at: now + Math.max(0, ms),
          seq: seq++,
          wake: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = () => {
          const i = timers.indexOf(t);
          if (i >= 0) timers.splice(i, 1);
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        timers.push(t);
        timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        notify();
      });
    },
    advance(ms) {
      if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`advance: ms must be a finite number >= 0, got ${ms}`);
      now += ms;
      while (timers.length > 0 && timers[0]!.at <= now) timers.shift()!.wake();
    },
    get sleepers() {
      return timers.length;
    },
    sleeping(atLeast = timers.length + 1) {
      return new Promise<void>((resolve) => {
        watchers.push({ atLeast, resolve });
        notify();
      });
    },
  };
}
