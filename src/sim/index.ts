/**
 * The local cloud: an AWS-compatible endpoint on loopback (EC2, Route 53, S3, EBS direct)
 * with simulated instance life and fault knobs. Used by `fleet sim`, the tour, the tests and
 * the benchmarks:
 *
 *   const cloud = await startLocalCloud({ delays: { bootMs: 1000 } });
 *   // AWS SDK clients with endpoint: cloud.endpoint
 *   cloud.control.faults.setThrottling(true);
 *   await cloud.close();
 */
import type { Server } from 'node:http';
import { SimClock } from './clock.js';
import { Faults, type BucketSpec, type CapacityRule } from './faults.js';
import { createIds } from './ids.js';
import { ControlError, listen } from './server.js';
import type { CloudEvent, EventSink, ServiceModule, SimContext, SimDelays } from './types.js';
import { createEc2, type Ec2Control } from './ec2/index.js';
import { createRoute53, type Route53Control } from './route53/index.js';
import { createS3, type S3Control } from './s3/index.js';
import { createEbs } from './ebs/index.js';

export const DEFAULT_DELAYS: SimDelays = {
  bootMs: 2_000,
  convergeMs: 5_000,
  dnsSyncMs: 1_000,
  terminatedVisibleMs: 60 * 60 * 1000,
  shutdownMs: 1_000,
  snapshotMs: 3_000,
  attachMs: 500,
};

export interface LocalCloudOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  region?: string;
  account?: string;
  /** Simulated time runs this many times faster than real time (default 1). */
  clockSpeed?: number;
  /** Simulated start time (epoch ms); default now. */
  startTime?: number;
  delays?: Partial<SimDelays>;
  /** Receives EventBridge-shaped events (spot interruption warnings, state changes). */
  eventSink?: EventSink;
  /** Turn AWS-like throttling on from the start. */
  throttling?: boolean;
  /** Salt for generated ids (reproducible runs). */
  idSalt?: number;
}

export interface LocalCloudControl {
  readonly clock: SimClock;
  readonly faults: Faults;
  /** Mutable: changes apply to what happens next. */
  readonly delays: SimDelays;
  readonly region: string;
  readonly account: string;
  readonly ec2: Ec2Control;
  readonly route53: Route53Control;
  readonly s3: S3Control;
  /** Every event emitted, oldest first (bounded to the last 10,000). */
  readonly events: CloudEvent[];
  setEventSink(sink: EventSink | undefined): void;
  setThrottling(on: boolean, overrides?: Record<string, BucketSpec>): void;
  failNext(service: string, action: string, n: number, status?: number): void;
  addCapacityRule(rule: CapacityRule): void;
  clearCapacityRules(): void;
  setConsistencyWindow(ms: number): void;
  /** Spot interruption: emits the warning now, terminates the instance 2 simulated minutes later. */
  interruptSpot(instanceId: string): CloudEvent;
  /** Calls by `service:Action`. */
  calls(): Record<string, number>;
  resetCalls(): void;
}

export interface LocalCloud {
  endpoint: string;
  control: LocalCloudControl;
  close(): Promise<void>;
}

export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const clock = new SimClock({ speed: options.clockSpeed ?? 1, ...(options.startTime !== undefined ? { start: options.startTime } : {}) });
  const faults = new Faults(clock);
  if (options.throttling) faults.setThrottling(true);
  const delays: SimDelays = { ...DEFAULT_DELAYS, ...(options.delays ?? {}) };
  const events: CloudEvent[] = [];
  let sink: EventSink | undefined = options.eventSink;
  const ctx: SimContext = {
    clock,
    faults,
    delays,
    region: options.region ?? 'us-east-1',
    account: options.account ?? '123456789012',
    ids: createIds(options.idSalt),
    emit(event) {
      events.push(event);
      if (events.length > 10_000) events.splice(0, events.length - 10_000);
      try {
        sink?.(event);
      } catch (err) {
        process.emitWarning(`local cloud event sink failed: ${String(err)}`);
      }
    },
  };

  const ec2 = createEc2(ctx);
  const route53 = createRoute53(ctx);
  const s3 = createS3(ctx);
  const ebs = createEbs(ctx, ec2);
  // Instances whose bootstrap restores a state.s3 prefix read it from this cloud's S3.
  ec2.setStateLister((bucket, prefix) => (s3.control.buckets().includes(bucket) ? s3.control.objects(bucket).filter((o) => o.key.startsWith(prefix)).map((o) => o.key) : undefined));
  const services = new Map<string, ServiceModule>([
    ['ec2', ec2],
    ['route53', route53],
    ['s3', s3],
    ['ebs', ebs],
  ]);

  const control: LocalCloudControl = {
    clock,
    faults,
    delays,
    region: ctx.region,
    account: ctx.account,
    ec2: ec2.control,
    route53: route53.control,
    s3: s3.control,
    events,
    setEventSink(s) {
      sink = s;
    },
    setThrottling: (on, overrides) => faults.setThrottling(on, overrides),
    failNext: (service, action, n, status) => faults.failNext(service, action, n, status),
    addCapacityRule: (rule) => faults.addCapacityRule(rule),
    clearCapacityRules: () => faults.clearCapacityRules(),
    setConsistencyWindow(ms) {
      if (!(ms >= 0)) throw new RangeError(`consistency window must be >= 0 ms, got ${ms}`);
      faults.consistencyWindowMs = ms;
    },
    interruptSpot: (id) => ec2.control.interruptSpot(id),
    calls: () => Object.fromEntries([...faults.calls.entries()].sort()),
    resetCalls: () => faults.resetCounters(),
  };

  const { server, endpoint } = await listen({ services, faults, control: controlHandler(control, (s) => (sink = s)) }, options.port ?? 0);
  return {
    endpoint,
    control,
    close: () => closeServer(server, clock),
  };
}

async function closeServer(server: Server, clock: SimClock): Promise<void> {
  clock.stop();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Post events as JSON to a URL (the HTTP form of the event sink). */
export function urlSink(url: string, onError: (message: string) => void = (m) => process.emitWarning(m)): EventSink {
  return (event) => {
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) }).catch((err) =>
      onError(`local cloud: posting event to ${url} failed: ${String(err)}`),
    );
  };
}

/**
 * A number knob within its range: every knob has one, so no request can put the local cloud
 * in a state it cannot leave (a clock at 1e308 times real time, a delay past the end of time).
 */
function num(body: Record<string, unknown>, key: string, opts: { optional?: boolean; min?: number; max?: number; integer?: boolean } = {}): number | undefined {
  const v = body[key];
  if (v === undefined && opts.optional) return undefined;
  const min = opts.min ?? 0;
  const max = opts.max ?? MAX_KNOB;
  const what = `${opts.integer ? 'a whole number' : 'a number'} ${min}..${max}`;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ControlError(`"${key}" must be ${what}, got ${showJson(v)}`);
  if (opts.integer && !Number.isInteger(v)) throw new ControlError(`"${key}" must be ${what}, got ${v}`);
  if (v < min || v > max) throw new ControlError(`"${key}" must be ${what}, got ${v}`);
  return v;
}

/** Largest count a knob takes (injected failures, conflicts, times). */
const MAX_KNOB = 1_000_000;
/** Longest simulated delay or window a knob sets: a week. */
const MAX_DELAY_MS = 7 * 24 * 3600 * 1000;
/** Fastest clock: a million times real time (a simulated year in 32 s). */
export const MAX_CLOCK_SPEED = 1_000_000;
/** Largest single clock jump: ten years. */
export const MAX_ADVANCE_MS = 10 * 365 * 24 * 3600 * 1000;
const MAX_STRING = 256;
const CAPACITY_CODES = ['InsufficientInstanceCapacity', 'UnfulfillableCapacity', 'SpotMaxPriceTooLow', 'MaxSpotInstanceCountExceeded', 'InstanceLimitExceeded'] as const;

function showJson(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function str(body: Record<string, unknown>, key: string, opts: { optional?: boolean } = {}): string | undefined {
  const v = body[key];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'string' || v === '') throw new ControlError(`"${key}" must be a non-empty string`);
  if (v.length > MAX_STRING) throw new ControlError(`"${key}" must be at most ${MAX_STRING} characters, got ${v.length}`);
  return v;
}

/**
 * The HTTP control endpoint, under /_sim/ (no AWS signature):
 *   GET  /_sim/health                      -> {ok, time, speed, rssBytes, maxRssBytes, cpuMs}
 *   POST /_sim/seed/instances {instances: [...]}   bulk-load (benchmarks), see Ec2Control.seedInstances
 *   POST /_sim/seed/records   {zone, records: [...]} bulk-load, see Route53Control.seedRecords
 *   GET  /_sim/calls   POST /_sim/calls/reset
 *   GET  /_sim/throttled                   throttled calls by `service:Action` (reset with the calls)
 *   GET  /_sim/events
 *   POST /_sim/throttling   {on: bool, buckets?: {key: {burst, refillPerSec}}}
 *   POST /_sim/fail-next    {service, action, n, status?}
 *   POST /_sim/capacity     {instanceType?, az?, market?, code?, times?}   DELETE /_sim/capacity
 *   POST /_sim/consistency  {ms}
 *   POST /_sim/spot-interrupt {instanceId}
 *   POST /_sim/clock        {speed?, advanceMs?}   GET /_sim/clock
 *   POST /_sim/delays       {bootMs?, convergeMs?, ...}
 *   POST /_sim/event-sink   {url} | {url: null}
 *   POST /_sim/volume-blocks  {volumeId, blocks: {index: token}}  the instance writes data
 *   POST /_sim/ec2/convergence {rules?: [...]}   instances that never (or slowly) converge
 *   POST /_sim/ec2/rebalance  {instanceId}       emit a rebalance recommendation
 *   POST /_sim/ec2/terminate  {instanceId}       the service terminates it (hardware failure)
 *   GET  /_sim/ec2/instances                     plain views of every instance
 *   GET  /_sim/ec2/stats                         counts by state, market, converged, invisible
 *   POST /_sim/route53/quota {recordSets}        record sets allowed per zone (AWS default 10,000)
 *   POST /_sim/route53/prior-request-not-complete {zone, n}
 *   POST /_sim/s3/conflict-next {bucket, key, n}  409 ConditionalRequestConflict on the next n conditional writes
 *   POST /_sim/reset        (all knobs back to defaults)
 *
 * Every knob is checked by type and range (counts 0..1,000,000, delays and windows up to a
 * week, clock speed up to 1,000,000, a jump of at most ten years that stays within the last
 * representable date, strings up to 256 characters): a bad one answers 400 with the reason
 * and changes nothing, so no request can leave the local cloud in a state it cannot leave.
 */
function controlHandler(control: LocalCloudControl, setSink: (s: EventSink | undefined) => void) {
  return (method: string, path: string, _query: URLSearchParams, rawBody: unknown): unknown => {
    const body = (rawBody ?? {}) as Record<string, unknown>;
    if (rawBody !== undefined && (typeof rawBody !== 'object' || rawBody === null || Array.isArray(rawBody))) {
      throw new ControlError('body must be a JSON object');
    }
    const route = `${method} ${path.replace(/\/+$/, '') || '/'}`;
    switch (route) {
      case 'GET /health':
      {
        const u = process.resourceUsage();
        return { ok: true, time: control.clock.nowIso(), speed: control.clock.speed, rssBytes: process.memoryUsage().rss, maxRssBytes: u.maxRSS * 1024, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 };
      }
      case 'POST /seed/instances': {
        const list = body['instances'];
        if (!Array.isArray(list)) throw new ControlError('"instances" must be an array of {instanceType, subnetId?, az?, tags, market?, state?, converged?}');
        try {
          return { instanceIds: control.ec2.seedInstances(list as Parameters<Ec2Control['seedInstances']>[0]) };
        } catch (err) {
          throw new ControlError(err instanceof Error ? err.message : String(err));
        }
      }
      case 'POST /seed/records': {
        const zone = str(body, 'zone')!;
        const list = body['records'];
        if (!Array.isArray(list)) throw new ControlError('"records" must be an array of {name, type, ttl, values}');
        let zoneId: string;
        try {
          zoneId = control.route53.seedRecords(zone, list as Parameters<Route53Control['seedRecords']>[1]);
        } catch (err) {
          throw new ControlError(err instanceof Error ? err.message : String(err));
        }
        return { ok: true, count: list.length, zoneId };
      }
      case 'GET /calls':
        return control.calls();
      case 'GET /throttled':
        return Object.fromEntries([...control.faults.throttled.entries()].sort());
      case 'POST /calls/reset':
        control.resetCalls();
        return { ok: true };
      case 'GET /events':
        return control.events;
      case 'POST /throttling': {
        if (typeof body['on'] !== 'boolean') throw new ControlError('"on" must be true or false');
        const buckets = body['buckets'];
        if (buckets !== undefined && (typeof buckets !== 'object' || buckets === null || Array.isArray(buckets))) throw new ControlError('"buckets" must be an object {key: {burst, refillPerSec}}');
        for (const [k, b] of Object.entries((buckets ?? {}) as Record<string, unknown>)) {
          if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new ControlError(`bucket "${k}" must be {burst, refillPerSec}`);
          const spec = b as Record<string, unknown>;
          num(spec, 'burst', { min: 1, max: MAX_KNOB });
          num(spec, 'refillPerSec', { min: 0.001, max: MAX_KNOB });
          if (Object.keys(spec).some((x) => x !== 'burst' && x !== 'refillPerSec')) throw new ControlError(`bucket "${k}" takes only burst and refillPerSec`);
        }
        control.setThrottling(body['on'], (buckets ?? {}) as Record<string, BucketSpec>);
        return { ok: true };
      }
      case 'POST /fail-next':
        try {
          control.failNext(str(body, 'service')!, str(body, 'action')!, num(body, 'n', { min: 1, integer: true })!, num(body, 'status', { optional: true, min: 500, max: 599, integer: true }));
        } catch (err) {
          if (err instanceof RangeError) throw new ControlError(err.message);
          throw err;
        }
        return { ok: true };
      case 'POST /capacity': {
        const market = str(body, 'market', { optional: true });
        if (market !== undefined && market !== 'spot' && market !== 'on-demand') throw new ControlError('"market" must be spot or on-demand');
        const rule: CapacityRule = {};
        const it = str(body, 'instanceType', { optional: true });
        const az = str(body, 'az', { optional: true });
        const code = str(body, 'code', { optional: true });
        if (code !== undefined && !(CAPACITY_CODES as readonly string[]).includes(code)) throw new ControlError(`"code" must be one of ${CAPACITY_CODES.join(', ')}`);
        const times = num(body, 'times', { optional: true, min: 1, integer: true });
        if (it !== undefined) rule.instanceType = it;
        if (az !== undefined) rule.az = az;
        if (market !== undefined) rule.market = market;
        if (code !== undefined) rule.code = code as NonNullable<CapacityRule['code']>;
        if (times !== undefined) rule.times = times;
        control.addCapacityRule(rule);
        return { ok: true };
      }
      case 'DELETE /capacity':
        control.clearCapacityRules();
        return { ok: true };
      case 'POST /consistency':
        control.setConsistencyWindow(num(body, 'ms', { max: MAX_DELAY_MS })!);
        return { ok: true };
      case 'POST /spot-interrupt':
        return control.interruptSpot(str(body, 'instanceId')!);
      case 'GET /clock':
        return { now: control.clock.nowIso(), speed: control.clock.speed };
      case 'POST /clock': {
        const speed = num(body, 'speed', { optional: true, min: 1e-6, max: MAX_CLOCK_SPEED });
        const adv = num(body, 'advanceMs', { optional: true, max: MAX_ADVANCE_MS });
        if (Object.keys(body).some((k) => k !== 'speed' && k !== 'advanceMs')) throw new ControlError('the clock takes speed and advanceMs only');
        try {
          if (speed !== undefined) control.clock.setSpeed(speed);
          if (adv !== undefined) control.clock.advance(adv);
        } catch (err) {
          throw new ControlError(err instanceof Error ? err.message : String(err));
        }
        return { now: control.clock.nowIso(), speed: control.clock.speed };
      }
      case 'POST /delays': {
        for (const k of Object.keys(body)) {
          if (!(k in control.delays)) throw new ControlError(`unknown delay "${k}"; known: ${Object.keys(control.delays).join(', ')}`);
          num(body, k, { max: MAX_DELAY_MS });
        }
        Object.assign(control.delays, body);
        return control.delays;
      }
      case 'POST /event-sink': {
        const url = body['url'];
        if (url === null) setSink(undefined);
        else if (typeof url === 'string' && /^https?:\/\//.test(url)) setSink(urlSink(url));
        else throw new ControlError('"url" must be an http(s) URL or null');
        return { ok: true };
      }
      case 'POST /volume-blocks': {
        const blocks = body['blocks'];
        if (typeof blocks !== 'object' || blocks === null || Array.isArray(blocks)) throw new ControlError('"blocks" must be an object {blockIndex: contentToken}');
        control.ec2.writeVolumeBlocks(str(body, 'volumeId')!, blocks as Record<number, string>);
        return { ok: true };
      }
      case 'POST /ec2/convergence': {
        const rules = body['rules'];
        if (rules !== undefined && !Array.isArray(rules)) throw new ControlError('"rules" must be an array of convergence rules, or absent to restore the default');
        control.ec2.setConvergence(rules as Parameters<Ec2Control['setConvergence']>[0]);
        return { ok: true };
      }
      case 'POST /ec2/rebalance':
        return control.ec2.rebalanceRecommendation(str(body, 'instanceId')!);
      case 'POST /ec2/terminate':
        control.ec2.terminate(str(body, 'instanceId')!);
        return { ok: true };
      case 'GET /ec2/instances':
        return control.ec2.instances();
      case 'GET /ec2/stats':
        return control.ec2.stats();
      case 'POST /route53/quota': {
        const n = num(body, 'recordSets', { min: 1, max: 10_000_000, integer: true })!;
        control.route53.setRecordSetQuota(n);
        return { ok: true };
      }
      case 'POST /route53/prior-request-not-complete':
        control.route53.setPriorRequestNotComplete(str(body, 'zone')!, num(body, 'n', { integer: true })!);
        return { ok: true };
      case 'POST /s3/conflict-next':
        control.s3.conflictNext(str(body, 'bucket')!, str(body, 'key')!, num(body, 'n', { integer: true })!);
        return { ok: true };
      case 'POST /reset':
        control.faults.reset();
        return { ok: true };
      default:
        throw new ControlError(`unknown control command ${route}`, 404);
    }
  };
}
