/**
 * The clock ops run on: real time, or real time scaled by a factor (to drive a local cloud
 * whose clock runs faster than real time: every wait, timeout and rate then runs in that
 * cloud's simulated time).
 */
import type { TimerClock } from '../ports.js';

/** The TimerClock port of src/ports.ts (one clock for ops and coord). */
export type OpsClock = TimerClock;

/**
 * @param startAt the clock's time now (epoch ms); default the real time. A local cloud whose
 *   clock runs faster is ahead of real time: anchoring at its time keeps instance launch times
 *   and this clock comparable.
 */
export function scaledClock(scale = 1, realNow: () => number = Date.now, startAt?: number): OpsClock {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`time scale must be > 0, got ${scale}`);
  const start = realNow();
  const base = startAt ?? start;
  return {
    now: () => new Date(base + (realNow() - start) * scale),
    sleep(ms, signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const t = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, Math.max(0, ms / scale));
        const onAbort = () => {
          clearTimeout(t);
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
