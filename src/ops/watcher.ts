/**
 * Waits on many instances with few calls: every poll, one DescribeInstances (filter
 * instance-id, 200 ids a call) covers every instance someone is waiting on. An apply of
 * 10,000 names waits with ceil(waiting/200) calls per poll, not one call per name.
 */
import { FleetError } from '../errors.js';
import type { Instance } from '../model.js';
import type { Instances, Log } from '../ports.js';
import type { OpsClock } from './clock.js';
import type { RateLimiter } from './limiter.js';

interface Waiter {
  id: string;
  done: (i: Instance) => boolean;
  /** Fails the wait (returns the reason) when the instance can no longer get there. */
  fail: (i: Instance) => string | undefined;
  deadline: number;
  /** Since when the id has been invisible (eventual consistency right after RunInstances). */
  invisibleSince: number;
  resolve: (i: Instance) => void;
  reject: (e: Error) => void;
  what: string;
}

export interface WatcherOptions {
  pollMs: number;
  /** How long an id may stay invisible before it counts as gone (AWS: seconds to a few minutes). */
  visibilityGraceMs: number;
}

export class InstanceWatcher {
  readonly #instances: Instances;
  readonly #clock: OpsClock;
  readonly #limiter: RateLimiter;
  readonly #log: Log;
  readonly #opts: WatcherOptions;
  #waiters: Waiter[] = [];
  #running = false;

  constructor(instances: Instances, clock: OpsClock, limiter: RateLimiter, log: Log, opts: WatcherOptions) {
    this.#instances = instances;
    this.#clock = clock;
    this.#limiter = limiter;
    this.#log = log;
    this.#opts = opts;
  }

  /**
   * Resolve when `done(instance)`; reject when `fail` says so, at the deadline, when the id
   * stays invisible, or with the signal's reason when `signal` aborts (a stop: the wait ends
   * at once, not at the next poll).
   */
  wait(id: string, what: string, timeoutMs: number, done: (i: Instance) => boolean, fail: (i: Instance) => string | undefined = () => undefined, signal?: AbortSignal): Promise<Instance> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const now = this.#clock.now().getTime();
      const onAbort = () => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) this.#waiters.splice(i, 1);
        // Taken into a poll in progress: that poll's result is dropped (settled promises ignore it).
        reject(signal!.reason);
      };
      const settle = <T>(f: (v: T) => void) => (v: T) => {
        signal?.removeEventListener('abort', onAbort);
        f(v);
      };
      const w: Waiter = { id, what, done, fail, deadline: now + timeoutMs, invisibleSince: now, resolve: settle(resolve), reject: settle(reject) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(w);
      if (!this.#running) void this.#loop();
    });
  }

  /** Wait for the readiness contract: running and tagged fleet:converged. `signal` ends the wait (a stop). */
  converged(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Instance> {
    return this.wait(
      id,
      'to report convergence',
      timeoutMs,
      (i) => i.state === 'running' && Boolean(i.converged),
      (i) => (i.state === 'pending' || i.state === 'running' ? undefined : `${id} is ${i.state} before it converged`),
      signal,
    );
  }

  /** Wait until an instance is shutting down or gone (termination confirmed). */
  terminated(id: string, timeoutMs: number): Promise<Instance | undefined> {
    return this.wait(id, 'to terminate', timeoutMs, (i) => i.state === 'shutting-down' || i.state === 'terminated').catch((err: unknown) => {
      if (err instanceof GoneError) return undefined;
      throw err;
    });
  }

  async #loop(): Promise<void> {
    this.#running = true;
    try {
      while (this.#waiters.length > 0) {
        // Take the current waiters; waits that start during this poll join the next one.
        const batch = this.#waiters;
        this.#waiters = [];
        const ids = [...new Set(batch.map((w) => w.id))];
        const seen = new Map<string, Instance>();
        for (let i = 0; i < ids.length; i += 200) {
          await this.#limiter.take('ec2:describe');
          try {
            const got = await this.#instances.describe(ids.slice(i, i + 200));
            for (const [k, v] of got) seen.set(k, v);
          } catch (err) {
            // A failed poll is not a failed wait: the SDK has retried already; try again next poll.
            this.#log({ level: 'warn', event: 'poll-failed', msg: `polling instances failed: ${err instanceof Error ? err.message : String(err)}` });
          }
        }
        const now = this.#clock.now().getTime();
        const keep: Waiter[] = [];
        for (const w of batch) {
          const inst = seen.get(w.id);
          if (inst) {
            w.invisibleSince = now;
            if (w.done(inst)) {
              w.resolve(inst);
              continue;
            }
            const why = w.fail(inst);
            if (why) {
              w.reject(new FleetError(why, { data: { instanceId: w.id, state: inst.state } }));
              continue;
            }
          } else if (now - w.invisibleSince > this.#opts.visibilityGraceMs) {
            w.reject(new GoneError(w.id, this.#opts.visibilityGraceMs));
            continue;
          }
          if (now > w.deadline) {
            w.reject(new TimeoutError(w.id, w.what, inst));
            continue;
          }
          keep.push(w);
        }
        this.#waiters = keep.concat(this.#waiters);
        if (this.#waiters.length > 0) await this.#clock.sleep(this.#opts.pollMs);
      }
    } finally {
      this.#running = false;
    }
  }
}

export class TimeoutError extends FleetError {
  constructor(id: string, what: string, inst: Instance | undefined) {
    super(`timed out waiting for ${id} ${what} (last seen ${inst ? inst.state : 'nowhere'})`, { data: { instanceId: id } });
  }
}

export class GoneError extends FleetError {
  constructor(id: string, graceMs: number) {
    super(`${id} is not visible to DescribeInstances after ${Math.round(graceMs / 1000)} s`, { data: { instanceId: id } });
  }
}
