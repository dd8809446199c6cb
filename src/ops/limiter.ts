/**
 * Client-side rate limiting that mirrors the AWS request buckets (DESIGN.md section 7), so a
 * large apply paces itself instead of hammering AWS into RequestLimitExceeded and burning the
 * SDK's retry quota. Token buckets on the ops clock; callers wait their turn in FIFO order.
 */
import type { OpsClock } from './clock.js';

export interface RateSpec {
  burst: number;
  perSec: number;
}

/** Account defaults per Region (EC2) and per account (Route 53), as documented by AWS. */
export const AWS_RATES: Record<string, RateSpec> = {
  'ec2:describe': { burst: 100, perSec: 20 },
  'ec2:run-instances': { burst: 5, perSec: 2 },
  'ec2:run-instances-resource': { burst: 1000, perSec: 2 },
  'ec2:terminate-instances': { burst: 100, perSec: 5 },
  'ec2:tags': { burst: 100, perSec: 10 },
  'ec2:mutating': { burst: 50, perSec: 5 },
  'route53:api': { burst: 5, perSec: 5 },
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
    this.#rates = Object.fromEntries(Object.entries(rates).map(([k, r]) => [k, { burst: Math.max(1, Math.floor(r.burst * headroom)), perSec: r.perSec * headroom }]));
  }

  /** AWS said the bucket is empty (a throttle): empty ours too, so the next calls wait for a refill. */
  penalize(bucket: string): void {
    const b = this.#buckets.get(bucket);
    if (!b) return;
    b.tokens = Math.min(b.tokens, 0);
    b.at = this.#clock.now().getTime();
  }

  /**
   * Wait until `n` tokens of `bucket` are available, then take them. Unknown buckets are free.
   * `signal` (a stop) ends the wait with its reason, taking nothing; the waiters behind go on.
   */
  take(bucket: string, n = 1, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const spec = this.#rates[bucket];
    if (!spec) return Promise.resolve();
    let b = this.#buckets.get(bucket);
    if (!b) {
      b = { spec, tokens: spec.burst, at: this.#clock.now().getTime(), tail: Promise.resolve() };
      this.#buckets.set(bucket, b);
    }
    const bucketRef = b;
    const turn = b.tail.then(async () => {
      if (signal?.aborted) throw signal.reason;
      const need = Math.min(n, bucketRef.spec.burst);
      for (;;) {
        const now = this.#clock.now().getTime();
        bucketRef.tokens = Math.min(bucketRef.spec.burst, bucketRef.tokens + ((now - bucketRef.at) / 1000) * bucketRef.spec.perSec);
        bucketRef.at = now;
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
