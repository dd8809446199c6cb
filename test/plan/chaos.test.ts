/** The chaos monkey's pure core, table-driven: who is eligible, whether to kill, and the seeded choice. */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import type { FleetSpec, Instance } from '../../src/model.js';
import { planChaos, recheckVictim, mulberry32 } from '../../src/plan/chaos/pick.js';
import { activeBlackout } from '../../src/plan/chaos/blackout.js';
import type { ChaosView, HeldLock, KillRecord } from '../../src/plan/chaos/types.js';
import { NOW, healthy, inst, rec, spec as baseSpec } from './fixtures.js';

const NAMES = ['hub-01', 'web-01', 'web-02', 'web-03', 'api-01', 'api-02', 'api-03', 'api-04'];

function policy(chaos = ''): FleetSpec {
  return baseSpec(`  api: {count: 4, type: m5.large}
chaos:
  opt-out: [hub]
  max-kills-per-run: 3
  max-kills-per-role: 1
  min-converged: {web: 2}
  min-time-between-kills: 1d
${chaos}`);
}

function view(opts: { observed?: ChaosView['observed']; journal?: KillRecord[]; locks?: HeldLock[]; killedTonight?: { name: string; role: string }[]; now?: Date; unreadable?: string; edit?: (i: Instance[]) => void } = {}): ChaosView {
  let observed = opts.observed;
  if (!('observed' in opts)) {
    const h = healthy(NAMES);
    // web is spot, as fleet.yaml says
    for (const i of h.instances) if (i.role === 'web') i.market = 'spot';
    opts.edit?.(h.instances);
    observed = h;
  }
  return {
    ...(observed ? { observed } : {}),
    ...(opts.unreadable ? { unreadable: opts.unreadable } : {}),
    locks: opts.locks ?? [],
    journal: opts.journal ?? [],
    killedTonight: opts.killedTonight ?? [],
    now: opts.now ?? NOW,
  };
}

const byName = (list: { name: string; reason: string }[], name: string) => list.find((x) => x.name === name)?.reason;

// ---- who: eligibility ---------------------------------------------------------------

const eligibility: Array<{ name: string; spec?: FleetSpec; view: ChaosView; target: string; reason: RegExp | undefined }> = [
  { name: 'an opted-out role', view: view(), target: 'hub-01', reason: /^role hub is opted out$/ },
  { name: 'a name tagged fleet:chaos=opt-out', view: view({ edit: (is) => void (is.find((i) => i.name === 'api-02')!.tags['fleet:chaos'] = 'opt-out') }), target: 'api-02', reason: /is tagged fleet:chaos=opt-out$/ },
  { name: 'another value of the tag does not opt out', view: view({ edit: (is) => void (is.find((i) => i.name === 'api-02')!.tags['fleet:chaos'] = 'yes') }), target: 'api-02', reason: undefined },
  { name: 'not converged', view: view({ edit: (is) => delete is.find((i) => i.name === 'api-03')!.converged }), target: 'api-03', reason: /^not served by a converged instance: .*has not reported convergence/ },
  { name: 'the record points at a terminated instance', view: view({ edit: (is) => (is.find((i) => i.name === 'api-04')!.state = 'terminated') }), target: 'api-04', reason: /^not served by a converged instance: record points at .* which is terminated/ },
  { name: 'killed 2 h ago, minimum 1 d', view: view({ journal: [{ name: 'api-01', at: new Date(NOW.getTime() - 2 * 3600_000).toISOString() }] }), target: 'api-01', reason: /^killed 2 h ago \(2026-11-25T01:00:00.000Z\); minimum time between kills 24 h$/ },
  { name: 'killed 2 d ago, minimum 1 d', view: view({ journal: [{ name: 'api-01', at: new Date(NOW.getTime() - 2 * 86400_000).toISOString() }] }), target: 'api-01', reason: undefined },
];

for (const c of eligibility) {
  test(`eligible: ${c.name}`, () => {
    const p = planChaos(c.spec ?? policy(), c.view, 1);
    const reason = byName(p.excluded, c.target);
    if (c.reason === undefined) assert.equal(reason, undefined, `${c.target} excluded: ${reason}`);
    else assert.match(reason ?? '(eligible)', c.reason);
  });
}

test('eligible: opt-out wildcards match roles', () => {
  const p = planChaos(baseSpec(`  api: {count: 4, type: m5.large}\nchaos:\n  opt-out: [h*, a?i]\n`), view(), 1);
  assert.match(byName(p.excluded, 'api-01') ?? '', /^role api is opted out \(pattern "a\?i"\)$/);
  assert.match(byName(p.excluded, 'hub-01') ?? '', /^role hub is opted out \(pattern "h\*"\)$/);
  assert.ok(p.victims.every((v) => v.role === 'web'));
});

// ---- whether: guards ----------------------------------------------------------------

test('guards: per-run cap', () => {
  const p = planChaos(baseSpec(`  api: {count: 4, type: m5.large}\nchaos:\n  opt-out: [hub]\n  max-kills-per-run: 3\n  max-kills-per-role: 4\n`), view(), 7);
  assert.equal(p.victims.length, 3);
  assert.ok(p.refused.some((r) => /3 kills this run already \(max-kills-per-run 3\)$/.test(r.reason)), JSON.stringify(p.refused));
});

test('guards: per-role cap', () => {
  const p = planChaos(policy(), view(), 7);
  const roles = p.victims.map((v) => v.role).sort();
  assert.deepEqual(roles, ['api', 'web']);
  assert.ok(p.refused.some((r) => /^not killing api-0\d: 1 kill in role api this run already \(max-kills-per-role 1\)$/.test(r.reason)), JSON.stringify(p.refused));
});

test('guards: never below a role minimum (web: 3 names, minimum 3)', () => {
  const spec = baseSpec(`  api: {count: 4, type: m5.large}\nchaos:\n  opt-out: [hub, api]\n  min-converged: {web: 3}\n`);
  const p = planChaos(spec, view(), 1);
  assert.deepEqual(p.victims, []);
  assert.deepEqual(p.refused.map((r) => r.reason).sort(), ['web-01', 'web-02', 'web-03'].map((n) => `not killing ${n}: role web at its minimum of 3 converged`));
  assert.deepEqual(p.notes, ['role web is never killed: its minimum of 3 converged is not below its count of 3'], 'said once per role chaos may kill (hub is opted out)');
});

test('guards: tonight\'s kills count toward the caps and the minimum', () => {
  // web: 3 names, minimum 2; web-01 killed tonight (dead now): web-02 and web-03 are at the minimum.
  const v = view({ killedTonight: [{ name: 'web-01', role: 'web' }], edit: (is) => (is.find((i) => i.name === 'web-01')!.state = 'terminated') });
  const spec = baseSpec(`  api: {count: 4, type: m5.large}\nchaos:\n  opt-out: [hub, api]\n  max-kills-per-run: 3\n  max-kills-per-role: 3\n  min-converged: {web: 2}\n`);
  const p = planChaos(spec, v, 3);
  assert.deepEqual(p.stop, [], 'a name killed tonight is not an outage');
  assert.deepEqual(p.victims, []);
  assert.match(byName(p.refused, 'web-02') ?? '', /^not killing web-02: role web at its minimum of 2 converged$/);
  const capped = planChaos(policy(), view({ killedTonight: [{ name: 'x-01', role: 'x' }, { name: 'x-02', role: 'x' }, { name: 'x-03', role: 'x' }] }), 3);
  assert.deepEqual(capped.victims, []);
  assert.ok(capped.refused.every((r) => /max-kills-per-run 3/.test(r.reason)));
});

const blackouts: Array<{ name: string; chaos: string; now: string; blocked: boolean }> = [
  { name: 'weekend, Saturday', chaos: '  blackout:\n    - days: [sat-sun]\n', now: '2026-11-28T03:00:00Z', blocked: true },
  { name: 'weekend, Wednesday', chaos: '  blackout:\n    - days: [sat-sun]\n', now: '2026-11-25T03:00:00Z', blocked: false },
  { name: 'hours wrapping midnight, inside', chaos: '  blackout:\n    - hours: "22:00-06:00"\n', now: '2026-11-25T03:00:00Z', blocked: true },
  { name: 'hours wrapping midnight, outside', chaos: '  blackout:\n    - hours: "22:00-06:00"\n', now: '2026-11-25T06:00:00Z', blocked: false },
  { name: 'days and hours together: Monday office hours, Monday night', chaos: '  blackout:\n    - {days: [mon-fri], hours: "09:00-18:00"}\n', now: '2026-11-23T20:00:00Z', blocked: false },
  { name: 'a date range', chaos: '  blackout:\n    - dates: ["2026-11-20..2026-11-30"]\n', now: '2026-11-25T03:00:00Z', blocked: true },
  { name: 'in the policy time zone: Friday 23:30 UTC is Saturday 00:30 in Paris', chaos: '  timezone: Europe/Paris\n  blackout:\n    - days: [sat]\n', now: '2026-11-27T23:30:00Z', blocked: true },
  { name: 'in UTC the same instant is Friday', chaos: '  blackout:\n    - days: [sat]\n', now: '2026-11-27T23:30:00Z', blocked: false },
];
for (const b of blackouts) {
  test(`guards: blackout ${b.name}`, () => {
    const p = planChaos(policy(b.chaos), view({ now: new Date(b.now) }), 5);
    if (b.blocked) {
      assert.deepEqual(p.victims, []);
      assert.match(p.stop[0] ?? '', /^blackout window /);
    } else {
      assert.ok(p.victims.length > 0, JSON.stringify(p.stop));
    }
  });
}

test('blackout: the reason names the window and the local time', () => {
  const p = planChaos(policy('  timezone: Europe/Paris\n  blackout:\n    - days: [sat]\n'), view({ now: new Date('2026-11-27T23:30:00Z') }), 5);
  assert.deepEqual(p.stop, ['blackout window days sat (now Sat 2026-11-28 00:30 Europe/Paris)']);
  assert.equal(activeBlackout([], NOW, 'UTC'), undefined);
});

// ---- the outage check fails closed, for each cause ----------------------------------

const outages: Array<{ name: string; view: ChaosView; stop: RegExp }> = [
  { name: 'the inventory unreadable', view: view({ observed: undefined, unreadable: 'ListResourceRecordSets: Throttling' }), stop: /^inventory unreadable: ListResourceRecordSets: Throttling$/ },
  { name: 'a name unserved (record points at a dead instance)', view: view({ edit: (is) => (is.find((i) => i.name === 'api-02')!.state = 'terminated') }), stop: /^1 name unserved: api-02 \(record points at .* which is terminated\)$/ },
  {
    name: 'a name with no record',
    view: (() => {
      const v = view();
      v.observed = { records: v.observed!.records.filter((r) => !r.name.startsWith('api-03.')), instances: v.observed!.instances };
      return v;
    })(),
    stop: /^1 name unserved: api-03 \(fleet.yaml wants api-03, but the zone has no record for it\)$/,
  },
  { name: 'a role under its minimum', view: view({ edit: (is) => is.filter((i) => i.role === 'web').slice(0, 2).forEach((i) => delete i.converged) }), stop: /^role web under its minimum: 1 converged, at least 2 required$/ },
  { name: 'an operation in progress (a lock held)', view: view({ locks: [{ name: 'api-01', holder: 'upgrade by alice@ops-1 (pid 42), 3 min' }] }), stop: /^operation in progress: api-01 is held \(upgrade by alice@ops-1 \(pid 42\), 3 min\)$/ },
];
for (const o of outages) {
  test(`outage check fails closed: ${o.name}`, () => {
    const p = planChaos(policy(), o.view, 11);
    assert.deepEqual(p.victims, []);
    assert.ok(p.stop.some((s) => o.stop.test(s)), JSON.stringify(p.stop));
  });
}

// ---- the seeded choice --------------------------------------------------------------

test('same seed + same fleet + same journal -> same victims; other seeds -> other victims', () => {
  const spec = baseSpec(`  api: {count: 8, type: m5.large}\nchaos:\n  opt-out: [hub]\n  max-kills-per-run: 2\n  max-kills-per-role: 2\n`);
  const names = ['hub-01', 'web-01', 'web-02', 'web-03', ...Array.from({ length: 8 }, (_, i) => `api-0${i + 1}`)];
  const fleet = healthy(names);
  const v: ChaosView = { observed: fleet, locks: [], journal: [{ name: 'api-05', at: '2026-11-24T20:00:00Z' }], killedTonight: [], now: NOW };
  const names1 = planChaos(spec, v, 42).victims.map((x) => x.name);
  assert.equal(names1.length, 2);
  assert.deepEqual(planChaos(spec, structuredClone(v), 42).victims.map((x) => x.name), names1);
  assert.ok(!names1.includes('api-05'), 'killed within the minimum time');
  const others = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((s) => planChaos(spec, v, s).victims.map((x) => x.name).join(',')));
  assert.ok(others.size > 1 && [...others].some((o) => o !== names1.join(',')), `seeds gave ${[...others].join(' | ')}`);
});

test('mulberry32 is the well-known generator: the reference code gives the same sequence', () => {
  // The reference (Tommy Ettinger's, as commonly published), kept verbatim in spirit.
  function reference(a: number) {
    return function () {
      let t = (a += 0x6d2b79f5);
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  for (const seed of [0, 1, 42, 0xffffffff]) {
    const a = mulberry32(seed);
    const b = reference(seed | 0);
    for (let i = 0; i < 100; i++) assert.equal(a(), b());
  }
  const r = mulberry32(7);
  const xs = Array.from({ length: 10_000 }, () => r());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
});

test('kinds: a spot interruption only for a spot instance', () => {
  const spotOnly = planChaos(policy('  kinds: [spot-interruption]\n'), view(), 9);
  assert.ok(spotOnly.victims.length >= 1);
  assert.ok(spotOnly.victims.every((v) => v.role === 'web' && v.kind === 'spot-interruption'));
  assert.ok(spotOnly.refused.some((r) => /is on-demand, and the policy's only kind of kill \(spot-interruption\) needs a spot instance$/.test(r.reason)), JSON.stringify(spotOnly.refused));
  const both = planChaos(policy('  kinds: [terminate, spot-interruption]\n'), view(), 9);
  assert.ok(both.victims.filter((v) => v.role === 'api').every((v) => v.kind === 'terminate'));
});

// ---- the re-check under the lock ----------------------------------------------------

test('recheck: the name changed meanwhile (an upgrade replaced it with an unconverged instance) -> refused with the reason', () => {
  const v = view();
  assert.equal(recheckVictim(policy(), v, 'api-01'), undefined);
  const web = v.observed!.instances.find((i) => i.name === 'api-01')!;
  const fresh = inst('api-01', { generation: 2, converged: '' });
  const changed: ChaosView = { ...v, observed: { records: v.observed!.records.map((r) => (r.name.startsWith('api-01.') ? rec('api-01', fresh.privateIp!) : r)), instances: [...v.observed!.instances.filter((i) => i !== web), fresh] } };
  assert.match(recheckVictim(policy(), changed, 'api-01') ?? '', /^not killing api-01: 1 name unserved: api-01 \(.*has not reported convergence\)$/);
  assert.match(recheckVictim(policy(), { ...v, killedTonight: [{ name: 'api-02', role: 'api' }] }, 'api-01') ?? '', /max-kills-per-role 1/);
  assert.match(recheckVictim(policy(), v, 'hub-01') ?? '', /^not killing hub-01: role hub is opted out$/);
});
