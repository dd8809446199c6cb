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
  // RunInstances sets the pace of an apply: at the default headroom (0.9) an apply could never
  // come within 1.11x of the floor EC2's 2 per second imposes. Launches are spaced by the
  // bucket, so 0.97 keeps a margin for latency jitter without costing 10%.
  'ec2:run-instances': { burst: 5, perSec: 2, headroom: 0.97 },
  'ec2:run-instances-resource': { burst: 1000, perSec: 2, headroom: 0.97 },
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
        const burst = r.reserve !== undefined ? r.burst - r.reserve : Math.floor(r.burst * h);
        return [k, { burst: Math.max(1, burst), perSec: r.perSec * h }];
      }),
    );
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
