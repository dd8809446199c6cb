/**
 * The fleet's invariants, checked on the local cloud's own state (not through the CLI):
 *
 * 1. served: every desired name has exactly one A record `name.zone.` holding one value, and
 *    exactly one live instance has that address; it is running, converged (tag
 *    fleet:converged), and tagged fleet:fleet=<fleet>, fleet:name=<name>, fleet:role=<role>,
 *    Name=<fqdn>, fleet:generation=<integer >= 1>;
 * 2. no orphan: every live (pending/running) instance tagged fleet:fleet=<fleet> is the one a
 *    record of its own name points at;
 * 3. no stray record: no A record of a fleet-shaped name (`<role>-<digits>`) that is not desired
 *    (when the zone is the fleet's alone, the default);
 * 4. generations: the instances ever seen for a name (terminated ones stay visible for a while)
 *    carry distinct generations, and against an earlier snapshot a name's serving generation
 *    never goes down, and goes up whenever the serving instance changed.
 *
 * `fleetViolations` returns every broken invariant as a sentence (usable while sampling a
 * running operation); `assertFleetInvariants` throws an AssertionError listing them all and
 * otherwise returns a snapshot to compare a later state against.
 */
import assert from 'node:assert/strict';
import type { LocalCloudControl } from '../../src/sim/index.js';
import type { InstanceView } from '../../src/sim/ec2/index.js';

const LIVE = new Set(['pending', 'running']);
const FLEET_NAME = /^([a-z][a-z0-9]*)-([0-9]+)$/;

export interface FleetInfo {
  fleet: string;
  /** The zone without trailing dot: prod.example.com. */
  zone: string;
  /** Desired short names (web-01, ...); the role is the part before the last hyphen. */
  names: readonly string[];
  /** The TTL every record of a desired name must carry (fleet.yaml dns.ttl), when given. */
  ttl?: number;
  /** An earlier snapshot: generations must not go down, and must go up when the instance changed. */
  previous?: FleetSnapshot;
  /** The zone may hold fleet-shaped names that are not desired (another fleet shares it). Default false. */
  sharedZone?: boolean;
}

export interface ServedName {
  name: string;
  fqdn: string;
  role: string;
  instanceId: string;
  ip: string;
  generation: number;
  instanceType: string;
  market: string;
  az: string;
  subnetId: string;
}

export interface FleetSnapshot {
  /** Desired name -> what serves it (only names that pass invariant 1). */
  served: Map<string, ServedName>;
  /** Name -> every generation tag seen on the fleet's instances of that name (any state). */
  generations: Map<string, number[]>;
}

export interface CheckOptions {
  /** Check only invariant 1 (served) for these names; used while an operation runs. */
  servedOnly?: boolean;
  /** Desired names that may be unserved (record to a dead instance) right now: kill-first upgrades. */
  mayBeUnserved?: ReadonlySet<string>;
}

function roleOf(name: string): string {
  return name.slice(0, name.lastIndexOf('-'));
}

/** Every broken invariant, as sentences, and the snapshot of what serves each name. */
export function fleetViolations(control: LocalCloudControl, info: FleetInfo, opts: CheckOptions = {}): { problems: string[]; snapshot: FleetSnapshot } {
  const problems: string[] = [];
  const zoneDot = `${info.zone}.`;
  const records = control.route53.records(info.zone).filter((r) => r.type === 'A');
  const recordByShort = new Map<string, (typeof records)[number]>();
  for (const r of records) {
    if (!r.name.endsWith(`.${zoneDot}`)) continue;
    recordByShort.set(r.name.slice(0, -(zoneDot.length + 1)), r);
  }
  const all = control.ec2.instances();
  const liveByIp = new Map<string, InstanceView[]>();
  for (const i of all) {
    if (!LIVE.has(i.state) || !i.privateIpAddress) continue;
    const list = liveByIp.get(i.privateIpAddress) ?? [];
    list.push(i);
    liveByIp.set(i.privateIpAddress, list);
  }
  const mine = all.filter((i) => i.tags['fleet:fleet'] === info.fleet);

  const served = new Map<string, ServedName>();
  const desired = new Set(info.names);
  for (const name of info.names) {
    const fqdn = `${name}.${info.zone}`;
    const rec = recordByShort.get(name);
    if (!rec) {
      problems.push(`${name}: no A record ${fqdn}.`);
      continue;
    }
    if (rec.values.length !== 1) {
      problems.push(`${name}: record holds ${rec.values.length} values (${rec.values.join(', ')})`);
      continue;
    }
    if (info.ttl !== undefined && rec.ttl !== info.ttl) problems.push(`${name}: record TTL ${rec.ttl}, fleet.yaml says ${info.ttl}`);
    const ip = rec.values[0]!;
    const at = liveByIp.get(ip) ?? [];
    if (at.length !== 1) {
      if (at.length === 0 && opts.mayBeUnserved?.has(name)) continue;
      problems.push(`${name}: record points at ${ip}, which ${at.length === 0 ? 'no live instance has' : `${at.length} live instances have (${at.map((i) => i.instanceId).join(', ')})`}`);
      continue;
    }
    const i = at[0]!;
    const bad: string[] = [];
    if (i.state !== 'running') bad.push(`is ${i.state}`);
    if (!i.tags['fleet:converged']) bad.push('has not reported convergence');
    if (i.tags['fleet:fleet'] !== info.fleet) bad.push(`is tagged fleet:fleet=${i.tags['fleet:fleet'] ?? '(none)'}`);
    if (i.tags['fleet:name'] !== name) bad.push(`is tagged fleet:name=${i.tags['fleet:name'] ?? '(none)'}`);
    if (i.tags['fleet:role'] !== roleOf(name)) bad.push(`is tagged fleet:role=${i.tags['fleet:role'] ?? '(none)'}`);
    if (i.tags['Name'] !== fqdn) bad.push(`is tagged Name=${i.tags['Name'] ?? '(none)'}`);
    const gen = Number(i.tags['fleet:generation']);
    if (!Number.isInteger(gen) || gen < 1) bad.push(`has fleet:generation=${i.tags['fleet:generation'] ?? '(none)'}`);
    if (bad.length) {
      problems.push(`${name}: ${i.instanceId} (${ip}) ${bad.join(', ')}`);
      continue;
    }
    served.set(name, { name, fqdn, role: roleOf(name), instanceId: i.instanceId, ip, generation: gen, instanceType: i.instanceType, market: i.market, az: i.availabilityZone, subnetId: i.subnetId });
  }

  const generations = new Map<string, number[]>();
  for (const i of mine) {
    const n = i.tags['fleet:name'];
    if (!n) continue;
    const list = generations.get(n) ?? [];
    list.push(Number(i.tags['fleet:generation']));
    generations.set(n, list);
  }
  const snapshot: FleetSnapshot = { served, generations };
  if (opts.servedOnly) return { problems, snapshot };

  const servingIds = new Set([...served.values()].map((s) => s.instanceId));
  for (const i of mine) {
    if (!LIVE.has(i.state) || servingIds.has(i.instanceId)) continue;
    const rec = i.tags['fleet:name'] ? recordByShort.get(i.tags['fleet:name']) : undefined;
    problems.push(
      `orphan: ${i.instanceId} (${i.state}, tagged ${i.tags['fleet:name'] ?? '(no name)'} generation ${i.tags['fleet:generation'] ?? '?'}, ${i.privateIpAddress ?? 'no address'}) is live but ${rec ? `the record points at ${rec.values.join(', ')}` : 'no record of its name exists'}`,
    );
  }
  if (!info.sharedZone) {
    for (const short of recordByShort.keys()) {
      if (FLEET_NAME.test(short) && !desired.has(short)) problems.push(`stray record: ${short}.${info.zone} is not a desired name`);
    }
  }
  for (const [n, gens] of generations) {
    const dup = gens.filter((g, k) => gens.indexOf(g) !== k);
    if (dup.length) problems.push(`${n}: generation ${[...new Set(dup)].join(', ')} was launched more than once (generations ${gens.join(', ')})`);
  }
  if (info.previous) {
    for (const [n, now] of served) {
      const before = info.previous.served.get(n);
      if (!before) continue;
      if (now.generation < before.generation) problems.push(`${n}: generation went down from ${before.generation} to ${now.generation}`);
      else if (now.instanceId !== before.instanceId && now.generation <= before.generation) {
        problems.push(`${n}: served by ${now.instanceId} instead of ${before.instanceId} but its generation did not go up (${before.generation} -> ${now.generation})`);
      }
    }
  }
  return { problems, snapshot };
}

/** Assert every invariant; returns the snapshot (what serves each name) for later comparisons. */
export function assertFleetInvariants(control: LocalCloudControl, info: FleetInfo, opts: CheckOptions = {}): FleetSnapshot {
  const { problems, snapshot } = fleetViolations(control, info, opts);
  assert.deepEqual(problems, [], `fleet ${info.fleet} breaks its invariants:\n  ${problems.join('\n  ')}`);
  return snapshot;
}

/**
 * Sample the invariants (served only, by default) while `work` runs, every `everyMs` of real
 * time, and once more at the end. Returns how many samples were taken and every problem seen,
 * each with the sample number, so a test can assert `problems` is empty.
 */
export async function sampleWhile<T>(
  control: LocalCloudControl,
  info: FleetInfo,
  work: Promise<T>,
  opts: CheckOptions & { everyMs?: number; extra?: (control: LocalCloudControl) => string[] } = { servedOnly: true },
): Promise<{ result: T; samples: number; problems: string[] }> {
  const problems: string[] = [];
  let samples = 0;
  const check = () => {
    samples++;
    const r = fleetViolations(control, info, { servedOnly: true, ...opts });
    for (const p of [...r.problems, ...(opts.extra?.(control) ?? [])]) problems.push(`sample ${samples}: ${p}`);
  };
  const timer = setInterval(check, opts.everyMs ?? 2);
  try {
    const result = await work;
    check();
    return { result, samples, problems };
  } finally {
    clearInterval(timer);
  }
}
