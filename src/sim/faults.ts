/**
 * Fault knobs of the local cloud: AWS-like throttling (token buckets on the simulated clock),
 * injected 5xx on the next N calls of an action, capacity errors for a type/AZ/market, and an
 * eventual-consistency window for new instances. Also counts every call by action, so tests
 * and benchmarks can compare API calls against the minimum.
 */
import type { SimClock } from './clock.js';

export interface BucketSpec {
  /** Bucket size. */
  burst: number;
  /** Tokens added per simulated second. */
  refillPerSec: number;
}

/**
 * Default throttling table. EC2 numbers are DESIGN.md section 7 (account defaults per Region).
 * S3: 3,500 writes / 5,500 reads per second per prefix (modelled per bucket). EBS direct: a
 * conservative 10 per second.
 *
 * Route 53 ("Throttling for Amazon Route 53 API requests", after its change-based throttling
 * update): every request takes a token from the account's bucket for all APIs
 * (`route53:api`, 50 / 10 per second) AND from its action's bucket (`route53:action:<Action>`;
 * actions not listed use `route53:action`, 50 / 10 per second); a request that modifies DNS
 * data also takes one token per record change from the change-throughput bucket
 * (`route53:changes`). Either empty bucket throttles the request: HTTP 400 `Throttling`,
 * "Rate exceeded". The change-throughput numbers were not in the stored copy of that page this
 * table was written from: 1,000 / 100 per second is an assumption (far above what a fleet's
 * launches produce); override it with setThrottling when the real figures are known.
 */
export const DEFAULT_BUCKETS: Record<string, BucketSpec> = {
  'ec2:describe': { burst: 100, refillPerSec: 20 },
  'ec2:describe-unfiltered': { burst: 50, refillPerSec: 10 },
  'ec2:mutating': { burst: 50, refillPerSec: 5 },
  'ec2:run-instances': { burst: 5, refillPerSec: 2 },
  /** Resource bucket: instances launched. */
  'ec2:run-instances-resource': { burst: 1000, refillPerSec: 2 },
  'ec2:terminate-instances': { burst: 100, refillPerSec: 5 },
  /** Resource bucket: instances terminated. */
  'ec2:terminate-instances-resource': { burst: 1000, refillPerSec: 20 },
  'ec2:tags': { burst: 100, refillPerSec: 10 },
  'ec2:volumes': { burst: 100, refillPerSec: 5 },
  /** Route 53, account level: all APIs together. */
  'route53:api': { burst: 50, refillPerSec: 10 },
  /** Route 53, per action: the default of every action not listed below. */
  'route53:action': { burst: 50, refillPerSec: 10 },
  'route53:action:CreateHostedZone': { burst: 40, refillPerSec: 2 },
  'route53:action:DeleteHostedZone': { burst: 40, refillPerSec: 5 },
  /** Route 53 change throughput: individual record changes (ASSUMED figures, see above). */
  'route53:changes': { burst: 1000, refillPerSec: 100 },
  's3:write': { burst: 3500, refillPerSec: 3500 },
  's3:read': { burst: 5500, refillPerSec: 5500 },
  'ebs:direct': { burst: 10, refillPerSec: 10 },
};

export interface CapacityRule {
  /** Instance type; undefined matches any. */
  instanceType?: string;
  /** Availability zone; undefined matches any. */
  az?: string;
  /** Market; undefined matches any. */
  market?: 'spot' | 'on-demand';
  /** Error code to answer; default InsufficientInstanceCapacity. */
  code?: 'InsufficientInstanceCapacity' | 'UnfulfillableCapacity' | 'SpotMaxPriceTooLow' | 'MaxSpotInstanceCountExceeded' | 'InstanceLimitExceeded';
  /** Fail only this many launches, then lift; undefined = until cleared. */
  times?: number;
}

interface Bucket {
  spec: BucketSpec;
  tokens: number;
  at: number;
}

interface FailRule {
  service: string;
  action: string;
  remaining: number;
  status: number;
}

export class Faults {
  readonly #clock: SimClock;
  #throttling = false;
  #specs: Record<string, BucketSpec> = { ...DEFAULT_BUCKETS };
  #buckets = new Map<string, Bucket>();
  #fail: FailRule[] = [];
  #capacity: CapacityRule[] = [];
  /** New instances stay invisible to Describe* and unknown to CreateTags etc. for this long. */
  consistencyWindowMs = 0;
  /** Calls by `service:Action`, including throttled and failed ones. */
  readonly calls = new Map<string, number>();
  /** Throttled calls by `service:Action`. */
  readonly throttled = new Map<string, number>();

  constructor(clock: SimClock) {
    this.#clock = clock;
  }

  get throttlingEnabled(): boolean {
    return this.#throttling;
  }

  /** Turn AWS-like throttling on or off; optionally override bucket specs. Buckets start full. */
  setThrottling(on: boolean, overrides: Record<string, BucketSpec> = {}): void {
    this.#throttling = on;
    this.#specs = { ...DEFAULT_BUCKETS, ...overrides };
    this.#buckets.clear();
  }

  /**
   * The spec of a bucket key: its own entry, else its family's default (the key without its
   * last `:segment`, e.g. `route53:action:GetChange` -> `route53:action`: each action still
   * has a bucket of its own, sized by the default). Undefined: not throttled.
   */
  #specOf(bucket: string): BucketSpec | undefined {
    const own = this.#specs[bucket];
    if (own) return own;
    const cut = bucket.lastIndexOf(':');
    return cut > 0 && bucket.indexOf(':') < cut ? this.#specs[bucket.slice(0, cut)] : undefined;
  }

  /** The bucket, refilled up to now; undefined when the key is not throttled. */
  #refilled(bucket: string): Bucket | undefined {
    const spec = this.#specOf(bucket);
    if (!spec) return undefined;
    const now = this.#clock.now();
    let b = this.#buckets.get(bucket);
    if (!b) {
      b = { spec, tokens: spec.burst, at: now };
      this.#buckets.set(bucket, b);
    }
    b.tokens = Math.min(spec.burst, b.tokens + ((now - b.at) / 1000) * spec.refillPerSec);
    b.at = now;
    return b;
  }

  /**
   * Take `n` tokens from a bucket. Returns false (and takes nothing) when throttling is on
   * and the bucket does not hold `n` tokens. Always true when throttling is off.
   */
  take(bucket: string, n = 1): boolean {
    return this.takeAll([{ bucket, n }]) === undefined;
  }

  /**
   * Take tokens from several buckets at once (a Route 53 request: the account's bucket, its
   * action's, and the change-throughput bucket): all or nothing. Returns the first bucket that
   * does not hold enough (nothing is taken then), or undefined when every take succeeded.
   */
  takeAll(takes: readonly { bucket: string; n: number }[]): string | undefined {
    if (!this.#throttling) return undefined;
    const held: { b: Bucket; n: number }[] = [];
    for (const t of takes) {
      const b = this.#refilled(t.bucket);
      if (!b) continue;
      if (b.tokens + 1e-9 < t.n) return t.bucket;
      held.push({ b, n: t.n });
    }
    for (const h of held) h.b.tokens -= h.n;
    return undefined;
  }

  /** Answer the next `n` calls of `service:action` with HTTP `status` (500 or 503). */
  failNext(service: string, action: string, n: number, status = 500): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`failNext: n must be a whole number >= 1, got ${n}`);
    if (status < 500 || status > 599) throw new RangeError(`failNext: status must be 5xx, got ${status}`);
    this.#fail.push({ service, action, remaining: n, status });
  }

  /** If an injected failure applies to this call, consume it and return its status. */
  takeFailure(service: string, action: string): number | undefined {
    const i = this.#fail.findIndex((f) => f.service === service && (f.action === action || f.action === '*'));
    if (i < 0) return undefined;
    const f = this.#fail[i]!;
    f.remaining--;
    if (f.remaining <= 0) this.#fail.splice(i, 1);
    return f.status;
  }

  addCapacityRule(rule: CapacityRule): void {
    this.#capacity.push({ ...rule });
  }

  clearCapacityRules(): void {
    this.#capacity = [];
  }

  /** The capacity error code for a launch of this type/AZ/market, if a rule applies (consumes one use). */
  capacityError(instanceType: string, az: string, market: 'spot' | 'on-demand'): string | undefined {
    const i = this.#capacity.findIndex(
      (r) =>
        (r.instanceType === undefined || r.instanceType === instanceType) &&
        (r.az === undefined || r.az === az) &&
        (r.market === undefined || r.market === market),
    );
    if (i < 0) return undefined;
    const r = this.#capacity[i]!;
    if (r.times !== undefined) {
      r.times--;
      if (r.times <= 0) this.#capacity.splice(i, 1);
    }
    return r.code ?? 'InsufficientInstanceCapacity';
  }

  countCall(key: string): void {
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
  }

  countThrottle(key: string): void {
    this.throttled.set(key, (this.throttled.get(key) ?? 0) + 1);
  }

  resetCounters(): void {
    this.calls.clear();
    this.throttled.clear();
  }

  /** Reset every knob to its default (throttling off, no failures, no capacity rules, no window). */
  reset(): void {
    this.setThrottling(false);
    this.#fail = [];
    this.#capacity = [];
    this.consistencyWindowMs = 0;
  }
}
