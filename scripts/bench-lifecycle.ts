/**
 * Lifecycle benchmarks for `npm run bench`: an apply from empty and a rolling upgrade of a
 * role, through the real CLI (a child process) against the local cloud (another child
 * process) with AWS-like throttling on. The local cloud's clock runs `speed` times faster than
 * real time and the CLI runs with `--time-scale speed`, so every wait, poll and client-side
 * rate of the CLI is in the cloud's time; durations are reported in simulated seconds.
 *
 * Measured, not timed: calls against their minimum, simulated time against the floor the EC2
 * RunInstances buckets impose, throttled calls, the CLI's peak RSS and CPU time.
 *
 * Floors (DESIGN.md section 7, src/sim/faults.ts): RunInstances is a request bucket of 5
 * (refill 2/s) and a resource bucket of 1,000 instances (refill 2/s). A fleet launches one
 * instance per call (each name has its own tags and user data), so N launches need at least
 * max((N-5)/2, (N-1000)/2) seconds. After the last launch, that name still has to boot,
 * converge and have its record INSYNC; an upgrade then also waits the TTL before it terminates
 * the old instance. floor = launch floor + that tail.
 *
 * Caveats of a fast clock: the CLI's start (Node, the SDK, reading the inventory) costs real
 * time, reported apart as "before the 1st launch"; and the SDK's retry backoff after a
 * throttled call runs in real time, so each throttle costs `speed` times more simulated time
 * than it would on AWS. Throttled calls are counted, so a run with none is exact.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { control, envInt, mb, runFleet, startSim, type Run, type Sim } from './bench-common.js';

export interface LifecycleOptions {
  /** The local cloud's clock speed; the CLI's --time-scale. */
  speed: number;
  /** CLI --poll-ms (simulated ms). */
  pollMs: number;
  /** reconcile.concurrency in fleet.yaml (apply). */
  concurrency: number;
  /** --max-surge (upgrade). */
  surge: number;
  /** dns.ttl, seconds. */
  ttl: number;
  /** The local cloud's PENDING -> INSYNC delay (simulated ms); undefined keeps its default. */
  dnsSyncMs: number | undefined;
}

export function lifecycleOptions(): LifecycleOptions {
  return {
    speed: envInt('FLEET_BENCH_SPEED', 20),
    pollMs: envInt('FLEET_BENCH_POLL_MS', 2000),
    concurrency: envInt('FLEET_BENCH_CONCURRENCY', 250),
    surge: envInt('FLEET_BENCH_SURGE', 250),
    ttl: envInt('FLEET_BENCH_TTL', 60),
    dnsSyncMs: process.env['FLEET_BENCH_DNS_SYNC_MS'] ? envInt('FLEET_BENCH_DNS_SYNC_MS', 0) : undefined,
  };
}

/** The local cloud's delays (src/sim/index.ts DEFAULT_DELAYS), fetched once per run. */
interface Delays {
  bootMs: number;
  convergeMs: number;
  dnsSyncMs: number;
}

const ZONE = 'bench.example.com';
const SUBNETS = ['subnet-0aa00000000000001', 'subnet-0bb00000000000002', 'subnet-0cc00000000000003'];
const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const name = (i: number) => `web-${String(i + 1).padStart(5, '0')}`;

function fleetYaml(n: number, o: LifecycleOptions): string {
  return `fleet: bench
region: us-east-1
dns:
  zone: ${ZONE}
  ttl: ${o.ttl}
  record-quota: 1000000
naming:
  index-digits: 5
hub: web-00001
journal:
  bucket: bench-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [${SUBNETS.join(', ')}]
  security-groups: [sg-0123456789abcdef0]
roles:
  web:
    count: ${n}
    type: t3.medium
    alternatives: [m5.large]
    market: on-demand
reconcile:
  concurrency: ${o.concurrency}
  converge-timeout: 15m
`;
}

const sec = (ms: number) => ms / 1000;
const fmtS = (s: number) => `${s.toFixed(0)} s`;

/** Seconds of simulated time the RunInstances buckets need for n launches (one per call). */
export function launchFloorSeconds(n: number): number {
  return Math.max(0, (n - 5) / 2, (n - 1000) / 2);
}

async function simNow(sim: Sim): Promise<number> {
  return Date.parse(((await control(sim.endpoint, '/clock')) as { now: string }).now);
}

interface Setup {
  sim: Sim;
  config: string;
  env: Record<string, string>;
  delays: Delays;
}

/** Local cloud with a zone and journal bucket (fleet init) for a role of n names, throttling still off. */
async function setUp(n: number, o: LifecycleOptions): Promise<Setup> {
  const sim = await startSim(['--speed', String(o.speed)]);
  try {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-bench-'));
    const config = join(dir, 'fleet.yaml');
    writeFileSync(config, fleetYaml(n, o));
    const env = { AWS_ENDPOINT_URL: sim.endpoint, AWS_REGION: 'us-east-1' };
    const init = await runFleet(['init', '--config', config], env);
    if (init.code !== 0) throw new Error(`fleet init failed: ${init.stderr}`);
    // A zone of more than 10,000 record sets needs a quota increase, as on AWS.
    await control(sim.endpoint, '/route53/quota', { recordSets: 2 * n + 100 });
    const delays = (await control(sim.endpoint, '/delays', o.dnsSyncMs === undefined ? {} : { dnsSyncMs: o.dnsSyncMs })) as Delays;
    return { sim, config, env, delays };
  } catch (err) {
    sim.stop();
    throw err;
  }
}

interface Measured {
  run: Run;
  simSeconds: number;
  calls: Record<string, number>;
  throttled: Record<string, number>;
  simCpuMs: number;
  simMaxRss: number;
  /** Simulated epoch ms when the CLI was started. */
  t0: number;
}

/** Throttling on (buckets full), counters reset, then run the CLI and read the counters. */
async function measure(s: Setup, args: string[], o: LifecycleOptions): Promise<Measured> {
  await control(s.sim.endpoint, '/throttling', { on: true });
  await control(s.sim.endpoint, '/calls/reset', {});
  const cpuBefore = ((await control(s.sim.endpoint, '/health')) as { cpuMs: number }).cpuMs;
  const t0 = await simNow(s.sim);
  const run = await runFleet(['--json', ...args, '--config', s.config, '--yes', '--time-scale', String(o.speed), '--poll-ms', String(o.pollMs)], s.env);
  const t1 = await simNow(s.sim);
  const calls = (await control(s.sim.endpoint, '/calls')) as Record<string, number>;
  const throttled = (await control(s.sim.endpoint, '/throttled')) as Record<string, number>;
  const health = (await control(s.sim.endpoint, '/health')) as { cpuMs: number; maxRssBytes: number };
  await control(s.sim.endpoint, '/throttling', { on: false });
  return { run, simSeconds: sec(t1 - t0), calls, throttled, simCpuMs: health.cpuMs - cpuBefore, simMaxRss: health.maxRssBytes, t0 };
}

function failure(what: string, run: Run): Error {
  const tail = (t: string) => t.split('\n').filter(Boolean).slice(-15).join('\n');
  return new Error(`${what} exited ${run.code}\nstderr (tail):\n${tail(run.stderr)}\nstdout (tail):\n${tail(run.stdout).slice(-3000)}`);
}

/** The CLI's --json answer, or a failure with its output when there is none. */
function answer<T>(what: string, run: Run): T {
  if (run.code !== 0 && run.code !== 1) throw failure(what, run);
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw failure(what, run);
  }
}

type Row = Record<string, string | number>;

interface Outcome {
  /** Names done, of n. */
  done: number;
  /** Records written by the names done (CREATE 1, DELETE + CREATE 2). */
  changes: number;
  /** Failure messages, most frequent first (names replaced by NAME). */
  errors: [string, number][];
  /** What the cloud's final state says, "ok" when it is what the scenario wants. */
  check: string;
  /** Simulated ms from the start of the CLI to its first launch. */
  startupMs: number | undefined;
}

function errorKinds(errors: string[]): [string, number][] {
  const m = new Map<string, number>();
  for (const e of errors) {
    const k = e.replace(/\b[a-z][a-z0-9]*-\d{2,6}\b/g, 'NAME').replace(/\bi-[0-9a-f]+\b/g, 'i-…').replace(/subnet-[0-9a-f]+/g, 'subnet-…');
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}

/** One table per scenario: each measure, its value, what it is measured against, and the ratio. */
function rows(n: number, m: Measured, x: Outcome, floor: { launch: number; tail: number }, setting: string, o: LifecycleOptions): Row[] {
  const c = (k: string) => m.calls[k] ?? 0;
  const t = (k: string) => m.throttled[k] ?? 0;
  const throttledTotal = Object.values(m.throttled).reduce((a, b) => a + b, 0);
  const floorS = floor.launch + floor.tail;
  const batchesMin = Math.max(1, Math.ceil(x.changes / 1000));
  const crrs = c('route53:ChangeResourceRecordSets');
  // Names become ready for DNS as the watcher sees them, one poll at a time: the fullest batches
  // the arrival rate allows carry every name of a poll, one change per poll that saw names
  // ready, over the time names were arriving (the launches), or fewer when a poll sees more
  // than a batch holds.
  const startupS = x.startupMs === undefined ? undefined : sec(x.startupMs);
  const arrivingS = startupS === undefined ? undefined : Math.max(0, m.simSeconds - startupS - floor.tail);
  const perPoll = arrivingS === undefined ? undefined : Math.max(batchesMin, Math.ceil(arrivingS / (o.pollMs / 1000)));
  // On AWS the start-up runs in real time, not `speed` times slower: the run as it would be there.
  const atRealStartup = startupS === undefined ? undefined : m.simSeconds - startupS + startupS / o.speed;
  const r = (measure: string, value: string | number, against = '', ratio = ''): Row => ({ measure, value, against, ratio });
  const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '-');
  return [
    r('names done', x.done, `${n}`, ratio(x.done, n)),
    r('cloud state', x.check),
    r('simulated time, CLI start to exit', fmtS(m.simSeconds), `floor ${fmtS(floorS)} (launches ${fmtS(floor.launch)} + last name ${fmtS(floor.tail)})`, ratio(m.simSeconds, floorS)),
    r('  from the 1st launch', x.startupMs === undefined ? '-' : fmtS(m.simSeconds - sec(x.startupMs)), `floor ${fmtS(floorS)}`, x.startupMs === undefined ? '-' : ratio(m.simSeconds - sec(x.startupMs), floorS)),
    r('  before the 1st launch', x.startupMs === undefined ? '-' : fmtS(sec(x.startupMs)), 'process start + inventory read (real startup x speed)'),
    r('  CLI start to exit, start-up in real time', atRealStartup === undefined ? '-' : fmtS(atRealStartup), `floor ${fmtS(floorS)} (the start-up took ${startupS === undefined ? '-' : (startupS / o.speed).toFixed(1)} s)`, atRealStartup === undefined ? '-' : ratio(atRealStartup, floorS)),
    r('RunInstances calls', c('ec2:RunInstances'), `${n} (one per name)`, ratio(c('ec2:RunInstances'), n)),
    r('  of which throttled', t('ec2:RunInstances'), '0', ''),
    r('ChangeResourceRecordSets', crrs, `${batchesMin} = ceil(${x.changes} records / 1000)`, ratio(crrs, batchesMin)),
    r('  records per call', crrs > 0 ? (x.changes / crrs).toFixed(1) : '-', '1000 (a full batch)'),
    r('  against the arrival rate', crrs, perPoll === undefined ? '-' : `${perPoll} = one per ${o.pollMs / 1000} s poll while names arrive (${fmtS(arrivingS!)})`, perPoll === undefined ? '-' : ratio(crrs, perPoll)),
    r('GetChange', c('route53:GetChange'), `${crrs} changes`, ratio(c('route53:GetChange'), crrs)),
    r('DescribeInstances', c('ec2:DescribeInstances'), `${n} names`, ratio(c('ec2:DescribeInstances'), n)),
    r('TerminateInstances', c('ec2:TerminateInstances'), `${n} names`, ratio(c('ec2:TerminateInstances'), n)),
    r('S3 PutObject (journal)', c('s3:PutObject'), `${n} names`, ratio(c('s3:PutObject'), n)),
    r('throttled calls (all)', throttledTotal, `${Object.values(m.calls).reduce((a, b) => a + b, 0)} calls`),
    r('setting', setting),
    r('wall time', `${(m.run.ms / 1000).toFixed(1)} s`),
    r('CPU', `CLI ${(m.run.cpuMs / 1000).toFixed(1)} s, local cloud ${(m.simCpuMs / 1000).toFixed(1)} s`),
    r('CLI peak RSS', mb(m.run.maxRssBytes)),
    r('local cloud peak RSS', mb(m.simMaxRss)),
  ];
}

/** Details that do not fit the table: every call and throttle by action, failures by kind. */
function details(scenario: string, m: Measured, x: Outcome): string {
  const fmt = (r: Record<string, number>) =>
    Object.entries(r)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') || 'none';
  const lines = [`  ${scenario}: calls ${fmt(m.calls)}`, `  ${scenario}: throttled ${fmt(m.throttled)}`];
  for (const [e, k] of x.errors.slice(0, 5)) lines.push(`  ${scenario}: FAILED ${k}x: ${e}`);
  return lines.join('\n');
}

interface InstanceView {
  instanceId: string;
  state: string;
  instanceType: string;
  launchTime: string;
  privateIpAddress: string;
  clientToken?: string;
  tags: Record<string, string>;
}

async function liveInstances(sim: Sim): Promise<{ live: InstanceView[]; firstLaunch: number | undefined }> {
  const all = (await control(sim.endpoint, '/ec2/instances')) as InstanceView[];
  let firstLaunch: number | undefined;
  for (const v of all) {
    if (!v.clientToken) continue; // seeded, not launched by the CLI
    const t = Date.parse(v.launchTime);
    if (firstLaunch === undefined || t < firstLaunch) firstLaunch = t;
  }
  return { live: all.filter((v) => v.state === 'pending' || v.state === 'running'), firstLaunch };
}

interface ApplyJson {
  outcomes: { ok: boolean; error?: string; action: { kind: string; replaces?: unknown } }[];
}

/** Apply from empty: n names launched, converged and recorded. */
export async function benchApply(n: number, o: LifecycleOptions): Promise<{ rows: Row[]; details: string; ok: boolean }> {
  const s = await setUp(n, o);
  try {
    const m = await measure(s, ['apply'], o);
    const out = answer<ApplyJson>('fleet apply', m.run);
    const ok = out.outcomes.filter((x) => x.ok);
    const { live, firstLaunch } = await liveInstances(s.sim);
    const converged = live.filter((v) => v.state === 'running' && v.tags['fleet:converged']).length;
    const x: Outcome = {
      done: ok.length,
      // A CREATE is one record written; a swap (DELETE + CREATE) two.
      changes: ok.reduce((a, y) => a + (y.action.replaces ? 2 : 1), 0),
      errors: errorKinds(out.outcomes.filter((y) => !y.ok).map((y) => y.error ?? '?')),
      check: live.length === n && converged === n ? 'ok' : `${live.length} live, ${converged} converged instances; expected ${n}`,
      startupMs: firstLaunch === undefined ? undefined : firstLaunch - m.t0,
    };
    const d = s.delays;
    const floor = { launch: launchFloorSeconds(n), tail: sec(d.bootMs + d.convergeMs + d.dnsSyncMs) };
    return { rows: rows(n, m, x, floor, `reconcile.concurrency ${o.concurrency}, --time-scale ${o.speed}, --poll-ms ${o.pollMs}, INSYNC after ${d.dnsSyncMs} ms`, o), details: details('apply', m, x), ok: x.check === 'ok' && x.done === n };
  } finally {
    s.sim.stop();
  }
}

interface UpgradeJson {
  results: { name: string; ok: boolean; error?: string; result?: { terminated: string[]; type: string } }[];
}

/** Rolling upgrade of a role of n converged, recorded names (seeded) to another instance type. */
export async function benchUpgrade(n: number, o: LifecycleOptions): Promise<{ rows: Row[]; details: string; ok: boolean }> {
  const s = await setUp(n, o);
  try {
    const seeded = Array.from({ length: n }, (_, i) => ({
      instanceType: 't3.medium',
      subnetId: SUBNETS[i % 3],
      az: AZS[i % 3],
      market: 'on-demand',
      converged: true,
      tags: { 'fleet:fleet': 'bench', 'fleet:name': name(i), 'fleet:role': 'web', 'fleet:generation': '1', Name: `${name(i)}.${ZONE}` },
    }));
    for (let start = 0; start < n; start += 20_000) {
      await control(s.sim.endpoint, '/seed/instances', { instances: seeded.slice(start, start + 20_000) });
    }
    const views = (await control(s.sim.endpoint, '/ec2/instances')) as InstanceView[];
    const records = views.map((v) => ({ name: `${v.tags['fleet:name']}.${ZONE}`, type: 'A', ttl: o.ttl, values: [v.privateIpAddress] }));
    for (let start = 0; start < records.length; start += 20_000) {
      await control(s.sim.endpoint, '/seed/records', { zone: ZONE, records: records.slice(start, start + 20_000) });
    }

    const m = await measure(s, ['upgrade', 'web', '--type', 'm5.large', '--max-surge', String(o.surge)], o);
    const out = answer<UpgradeJson>('fleet upgrade', m.run);
    const ok = out.results.filter((r) => r.ok);
    const terminated = ok.reduce((a, r) => a + (r.result?.terminated.length ?? 0), 0);
    const { live, firstLaunch } = await liveInstances(s.sim);
    const upgraded = live.filter((v) => v.instanceType === 'm5.large').length;
    const x: Outcome = {
      done: ok.length,
      // Every name done is swapped: [DELETE old, CREATE new].
      changes: 2 * ok.length,
      errors: errorKinds(out.results.filter((r) => !r.ok).map((r) => r.error ?? '?')),
      check: live.length === n && upgraded === n && terminated === n ? 'ok' : `${live.length} live (${upgraded} m5.large), ${terminated} old terminated; expected ${n}`,
      startupMs: firstLaunch === undefined ? undefined : firstLaunch - m.t0,
    };
    const d = s.delays;
    const floor = { launch: launchFloorSeconds(n), tail: sec(d.bootMs + d.convergeMs + d.dnsSyncMs) + o.ttl };
    return { rows: rows(n, m, x, floor, `--max-surge ${o.surge}, ttl ${o.ttl} s, --time-scale ${o.speed}, --poll-ms ${o.pollMs}, INSYNC after ${d.dnsSyncMs} ms`, o), details: details('upgrade', m, x), ok: x.check === 'ok' && x.done === n };
  } finally {
    s.sim.stop();
  }
}
