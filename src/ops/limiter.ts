/**
 * Client-side rate limiting that mirrors the AWS request buckets (DESIGN.md section 7), so a
 * large apply paces itself instead of hammering AWS into RequestLimitExceeded and burning the
 * SDK's retry quota. Token buckets on the ops clock; callers wait their turn in FIFO order.
 */
import type { OpsClock } from './clock.js';

export interface RateSpec {
  burst: number;
  perSec: number;
  /** This bucket's fraction of the AWS rate, instead of the limiter's default headroom. */
  headroom?: number;
  /**
   * Tokens of the burst never used, instead of the headroom's share of it. A cushion: while
   * fleet is the account's only caller, AWS's bucket then holds at least this many more tokens
   * than ours whenever a request reaches it (a request arrives after we sent it, and both refill
   * at the same rate), so latency jitter cannot throttle a call even at the full rate.
   */
  reserve?: number;
}

/**
 * Account defaults per Region (EC2) and per account (Route 53), as documented by AWS.
 *
 * Route 53 ("Throttling for Amazon Route 53 API requests", since its change-based update): a
 * request takes a token from the account's bucket for all APIs (50, refill 10 per second) and
 * from its action's bucket (default 50 / 10; of the actions fleet calls only CreateHostedZone
 * is lower, 40 / 2, and fleet creates one zone). Pacing every Route 53 call through one bucket
 * at the account's rate keeps both below their limits while fleet is the account's only
 * caller. It paces at the full rate and keeps 2 tokens of the burst in reserve (see
 * RateSpec.reserve): any headroom on the rate would cost a 100,000-name listing that share
 * over Route 53's floor (at 0.97, 3%), while the reserve already absorbs every delay between
 * our send and AWS's count. A batch of record changes
 * also takes one token per change from `route53:changes` (the change-throughput bucket; its
 * figures are assumed, see src/sim/faults.ts).
 */
export const AWS_RATES: Record<string, RateSpec> = {
  'ec2:describe': { burst: 100, perSec: 20 },
  // RunInstances sets the pace of an apply: any headroom on its rate is that share over the
  // floor EC2's 2 per second imposes (0.9: 1.11x). Paced at the full rate, with a token of the
  // burst in reserve against latency jitter (RateSpec.reserve) and a throttle, should one come
  // all the same, re-syncing the bucket (ThrottleFeed).
  'ec2:run-instances': { burst: 5, perSec: 2, headroom: 1, reserve: 1 },
  'ec2:run-instances-resource': { burst: 1000, perSec: 2, headroom: 1, reserve: 10 },
  'ec2:terminate-instances': { burst: 100, perSec: 5 },
  'ec2:tags': { burst: 100, perSec: 10 },
  'ec2:mutating': { burst: 50, perSec: 5 },
  'route53:api': { burst: 50, perSec: 10, headroom: 1, reserve: 2 },
  'route53:changes': { burst: 1000, perSec: 100 },
  's3:write': { burst: 3500, perSec: 3500 },
};

interface Bucket {
  spec: RateSpec;
  tokens: number;
  at: number;
  /** Tail of the FIFO of waiters. */
  tail: Promise<void>;
}

export class RateLimiter {
  readonly #clock: OpsClock;
  readonly #buckets = new Map<string, Bucket>();
  readonly #rates: Record<string, RateSpec>;
  /** Total time callers spent waiting, per bucket (ms of clock time). */
  readonly waited = new Map<string, number>();

  /**
   * @param headroom fraction of the AWS rate to pace at: the server's bucket and ours drift
   *   apart (latency, SDK retries that bypass us), so pacing at exactly its rate means every
   *   other call finds it empty.
   */
  constructor(clock: OpsClock, rates: Record<string, RateSpec> = AWS_RATES, headroom = 0.9) {
    this.#clock = clock;
    this.#rates = Object.fromEntries(
      Object.entries(rates).map(([k, r]) => {
        const h = r.headroom ?? headroom;
        const burst = Math.max(1, r.reserve !== undefined ? r.burst - r.reserve : Math.floor(r.burst * h));
        return [k, { burst, perSec: r.perSec * h, reserve: r.burst - burst }];
      }),
    );
  }

  /**
   * AWS said the bucket is empty (a throttle): ours goes below empty by the reserve (the
   * cushion the run began with, which the drift used up), so the next calls wait for AWS's
   * refill. `debt`: tokens AWS will be asked for outside this limiter (the SDK's retry of the
   * throttled attempt), owed on top: without it each retry takes a token our bucket did not
   * count, the next call is throttled for it, and its retry does the same, for the whole run.
   * Several throttles at once charge the reserve once and each debt. A bucket not used yet
   * starts there too.
   */
  penalize(bucket: string, debt = 0): void {
    const b = this.#bucket(bucket);
    if (!b) return;
    this.#refill(b);
    b.tokens = Math.min(b.tokens, -(b.spec.reserve ?? 0)) - debt;
  }

  #bucket(bucket: string): Bucket | undefined {
    const spec = this.#rates[bucket];
    if (!spec) return undefined;
    let b = this.#buckets.get(bucket);
    if (!b) {
      b = { spec, tokens: spec.burst, at: this.#clock.now().getTime(), tail: Promise.resolve() };
      this.#buckets.set(bucket, b);
    }
    return b;
  }

  /** Tokens earned since the bucket was last looked at, up to its burst. */
  #refill(b: Bucket): void {
    const now = this.#clock.now().getTime();
    b.tokens = Math.min(b.spec.burst, b.tokens + ((now - b.at) / 1000) * b.spec.perSec);
    b.at = now;
  }

  /**
   * Wait until `n` tokens of `bucket` are available, then take them. Unknown buckets are free.
   * `signal` (a stop) ends the wait with its reason, taking nothing; the waiters behind go on.
   */
  take(bucket: string, n = 1, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const b = this.#bucket(bucket);
    if (!b) return Promise.resolve();
    const bucketRef = b;
    const turn = b.tail.then(async () => {
      if (signal?.aborted) throw signal.reason;
      const need = Math.min(n, bucketRef.spec.burst);
      for (;;) {
        this.#refill(bucketRef);
        if (bucketRef.tokens >= need) {
          bucketRef.tokens -= need;
          return;
        }
        const waitMs = Math.ceil(((need - bucketRef.tokens) / bucketRef.spec.perSec) * 1000);
        this.waited.set(bucket, (this.waited.get(bucket) ?? 0) + waitMs);
        await this.#clock.sleep(waitMs, signal);
      }
    });
    b.tail = turn.catch(() => {});
    return turn;
  }
}

/**
 * The limiter bucket a call is paced on, by service and command (as the SDK names it, without
 * `Command`): where a throttle AWS answered is felt. Undefined: a call no bucket paces.
 */
export function bucketOfCall(service: string, command: string): string | undefined {
  switch (service) {
    case 'Route 53':
      return 'route53:api';
    case 'EC2':
      if (command === 'RunInstances') return 'ec2:run-instances';
      if (command === 'TerminateInstances') return 'ec2:terminate-instances';
      if (command === 'CreateTags' || command === 'DeleteTags') return 'ec2:tags';
      return command.startsWith('Describe') ? 'ec2:describe' : 'ec2:mutating';
    case 'S3':
      return /^(Put|Delete|Copy|Create|Complete|Upload)/.test(command) ? 's3:write' : 's3:read';
    default:
      return undefined;
  }
}

/**
 * Throttles AWS answered, whoever made the call, relayed to every limiter of the run: each
 * empties the bucket the call is paced on (RateLimiter.penalize), so its next calls wait for
 * AWS's bucket instead of meeting it empty again. A throttle comes from a drift between our
 * bucket and AWS's (another caller in the account, a bucket a command just before had drained,
 * the SDK's own retries); without this a drifted limiter stays ahead of AWS for the whole run.
 */
export class ThrottleFeed {
  /** Weakly held: a warm Lambda container adds a limiter per event, and keeps none of them. */
  readonly #limiters = new Set<WeakRef<RateLimiter>>();
  /** Throttles reported, by bucket. */
  readonly reported = new Map<string, number>();

  /** `limiter` hears every throttle from now on; returns it. */
  add(limiter: RateLimiter): RateLimiter {
    for (const ref of this.#limiters) if (!ref.deref()) this.#limiters.delete(ref);
    this.#limiters.add(new WeakRef(limiter));
    return limiter;
  }

  report(service: string, command: string): void {
    const bucket = bucketOfCall(service, command);
    if (!bucket) return;
    this.reported.set(bucket, (this.reported.get(bucket) ?? 0) + 1);
    for (const ref of this.#limiters) {
      const l = ref.deref();
      // The SDK retries the throttled attempt: one more of AWS's tokens, not counted by ours.
      if (l) l.penalize(bucket, 1);
      else this.#limiters.delete(ref);
    }
  }
}
