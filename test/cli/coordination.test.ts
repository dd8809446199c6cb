/**
 * Coordination end to end: the real bin as child processes against the local cloud (in-process,
 * SPEED times faster than real time, the CLI on the same scale), with the local coordinator
 * (lock files under a private FLEET_LOCK_DIR) and with a real ZooKeeper on loopback
 * (test/coord/zk-server.ts).
 *
 * 1. ten concurrent `fleet upgrade web-03 --type m5.large`: one upgrades, the others wait and
 *    find it done, or report the holder (`web-03 is being upgraded by <host> (pid N) since ...`);
 * 2. upgrade, kill and apply of one name at once, each in its own process (and an upgrade
 *    that waited while the name was killed);
 * 3. ZooKeeper crashes during an upgrade: back in time (the upgrade goes on or rolls back) or
 *    not (the upgrade stops before its next side effect; fencing);
 * 4. an unreachable ZooKeeper: every command fails within bounded time, naming the connect
 *    string, having changed nothing.
 *
 * `fleet locks` and `fleet controller` are in controller.test.ts.
 *
 * While processes run, a sampler in this process reads the cloud's own state every few ms: the
 * record of the name, what serves every name, and journal objects in the order they appear.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import type { InstanceView } from '../../src/sim/ec2/instances.js';
import { fleet, tempDir, writeConfig, type CliResult } from './helpers.js';
import { FAST, HOST, LIVE, NAMES, SPEED, esc, spawnFleet, until, yaml, type JournalEntry, type Proc } from './coord-helpers.js';
import { assertFleetInvariants, fleetViolations, type FleetInfo, type FleetSnapshot } from './invariants.js';
import { ZkServer } from '../coord/zk-server.js';
import { ZooKeeperCoordinator } from '../../src/coord/zookeeper.js';

/** What a sampler saw while processes ran. */
interface Seen {
  /** Distinct consecutive values of the name's record, with the generation of the instance each pointed at. */
  record: { ip: string | undefined; generation: number | undefined; instanceId: string | undefined }[];
  /** Invariant violations (served only) at any sample. */
  problems: string[];
  /** Journal keys in the order they appeared. */
  journalOrder: string[];
  /** Route 53 change batches, by sample, to see when DNS changed. */
  changesAt: { t: number; changes: number }[];
  samples: number;
}

describe('coordination: concurrent operations on one name, from separate processes', () => {
  let cloud: LocalCloud;
  let zk: ZkServer;
  let lockDir: string;
  before(async () => {
    [cloud, zk] = await Promise.all([startLocalCloud({ clockSpeed: SPEED }), ZkServer.start()]);
    lockDir = tempDir();
  });
  after(async () => {
    await cloud?.close();
    await zk?.dispose();
  });

  const env = (): Record<string, string> => ({ AWS_ENDPOINT_URL: cloud.endpoint, FLEET_LOCK_DIR: lockDir });
  const run = (args: string[]): Promise<CliResult> => fleet(args, { endpoint: cloud.endpoint, env: { FLEET_LOCK_DIR: lockDir } });
  const info = (f: string, previous?: FleetSnapshot): FleetInfo => ({ fleet: f, zone: `${f}.example.com`, names: NAMES, ttl: 1, ...(previous ? { previous } : {}) });
  const instancesOf = (f: string, name: string): InstanceView[] => cloud.control.ec2.instances().filter((i) => i.tags['fleet:fleet'] === f && i.tags['fleet:name'] === name);
  const recordOf = (f: string, name: string): string[] | undefined =>
    cloud.control.route53.records(`${f}.example.com`).find((r) => r.type === 'A' && r.name === `${name}.${f}.example.com.`)?.values;
  const journal = (f: string): Map<string, JournalEntry> =>
    new Map(
      cloud.control.s3.objects(`${f}-fleet-journal`).map((o) => {
        const body = JSON.parse(cloud.control.s3.getObject(`${f}-fleet-journal`, o.key)!.toString('utf8')) as JournalEntry;
        return [o.key, { ...body, key: o.key }];
      }),
    );
  const mutating = (calls: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(calls).filter(([k]) => !/:(Describe|List|Get|Head)/.test(k)));

  /** A fleet with its zone, bucket and every name served (generation 1). */
  const setup = async (f: string, zk?: { connect: string; sessionTimeout?: string }): Promise<{ config: string; snapshot: FleetSnapshot }> => {
    const config = writeConfig(yaml(f, zk ? { zk } : {}));
    const init = await run(['init', '--config', config]);
    assert.equal(init.code, 0, init.stderr);
    const apply = await run(['apply', '--yes', '--config', config, ...FAST]);
    assert.equal(apply.code, 0, apply.stdout + apply.stderr);
    return { config, snapshot: assertFleetInvariants(cloud.control, info(f)) };
  };

  /** Sample the cloud every few ms while `work` runs. */
  const sample = async <T>(f: string, name: string, work: Promise<T>, opts: { mayBeUnserved?: Set<string> } = {}): Promise<{ result: T; seen: Seen }> => {
    const seen: Seen = { record: [], problems: [], journalOrder: [], changesAt: [], samples: 0 };
    const known = new Set(cloud.control.s3.objects(`${f}-fleet-journal`).map((o) => o.key));
    const check = () => {
      seen.samples++;
      const values = recordOf(f, name);
      if (!values || values.length !== 1) seen.problems.push(`sample ${seen.samples}: ${name} record is ${JSON.stringify(values)}`);
      const ip = values?.[0];
      const last = seen.record[seen.record.length - 1];
      if (!last || last.ip !== ip) {
        const inst = cloud.control.ec2.instances().find((i) => i.privateIpAddress === ip && i.tags['fleet:fleet'] === f);
        seen.record.push({ ip, generation: inst ? Number(inst.tags['fleet:generation']) : undefined, instanceId: inst?.instanceId });
      }
      const r = fleetViolations(cloud.control, info(f), { servedOnly: true, ...(opts.mayBeUnserved ? { mayBeUnserved: opts.mayBeUnserved } : {}) });
      for (const p of r.problems) seen.problems.push(`sample ${seen.samples}: ${p}`);
      for (const o of cloud.control.s3.objects(`${f}-fleet-journal`)) {
        if (!known.has(o.key)) {
          known.add(o.key);
          seen.journalOrder.push(o.key);
        }
      }
      const changes = cloud.control.route53.changes();
      const lastC = seen.changesAt[seen.changesAt.length - 1];
      if (!lastC || lastC.changes !== changes) seen.changesAt.push({ t: Date.now(), changes });
    };
    const timer = setInterval(check, 3);
    try {
      const result = await work;
      check();
      return { result, seen };
    } finally {
      clearInterval(timer);
    }
  };

  /** Ten processes upgrade web-03 at once; half wait for the lock, half do not. */
  const tenUpgrades = async (f: string, zkc?: { connect: string }) => {
    const { config, snapshot } = await setup(f, zkc);
    const before = snapshot.served.get('web-03')!;
    // The first to take the lock waits an hour for convergence (captured at launch), so that the
    // others meet it while it holds the lock however slowly a busy machine starts ten processes
    // (5 s of real time did not always do). Once four have left (the five without --wait but
    // the holder, should it be one of them, each met the holder), the test moves the clock to
    // the convergence. The converge-timeout (30m, 90 s here) runs on the processes' own clock.
    const HOUR = 3_600_000;
    cloud.control.delays.convergeMs = HOUR;
    let procs: Proc[] = [];
    try {
      procs = Array.from({ length: 10 }, (_, k) =>
        spawnFleet(['upgrade', 'web-03', '--type', 'm5.large', '--yes', '--config', config, ...FAST, ...(k % 2 === 0 ? ['--wait', '2h'] : [])], env()),
      );
      let exited = 0;
      for (const p of procs) void p.done.then(() => exited++, () => exited++);
      const all = (async () => {
        await until('four processes met the holder and left', 45_000, () => exited >= 4);
        cloud.control.clock.advance(HOUR);
        return Promise.all(procs.map((p) => p.done));
      })();
      const { result: results, seen } = await sample(f, 'web-03', all);
      const waited = (k: number) => k % 2 === 0;

      // Exactly one replaced the instance.
      const winners = results.flatMap((r, k) => (/^done: web-03 -> /m.test(r.stdout) ? [k] : []));
      assert.equal(winners.length, 1, `exactly one upgrade replaced web-03:\n${results.map((r, k) => `#${k} (exit ${r.code}): ${r.stdout}${r.stderr}`).join('\n')}`);
      const winner = procs[winners[0]!]!;
      assert.equal(results[winners[0]!]!.code, 0);
      const holderLine = new RegExp(`^FAILED: web-03 is being upgraded by ${esc(HOST)} \\(pid ${winner.pid}\\) since (\\d\\d):(\\d\\d):(\\d\\d)$`, 'm');
      let reported = 0;
      let noop = 0;
      for (const [k, r] of results.entries()) {
        if (k === winners[0]) continue;
        const what = `#${k}${waited(k) ? ' (--wait 5m)' : ''} exit ${r.code}: ${r.stdout}${r.stderr}`;
        if (waited(k)) {
          // Waited for the lock, then found the work done: a no-op that succeeds.
          assert.equal(r.code, 0, what);
          assert.match(r.stdout, /skip web-03: already m5\.large|nothing to upgrade to m5\.large/, what);
          noop++;
        } else if (r.code === 1) {
          const m = holderLine.exec(r.stdout);
          assert.ok(m, `reports the holder: ${what}`);
          // The holder's since, in local time, is a moment of this run.
          const d = new Date();
          const secs = (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) - (d.getHours() * 3600 + d.getMinutes() * 60 + d.getSeconds()) + 86400) % 86400;
          assert.ok(secs > 86400 - 120 || secs < 5, `since ${m[1]}:${m[2]}:${m[3]} is recent (${what})`);
          assert.doesNotMatch(r.stdout, /gave up after/, 'without --wait it fails at once');
          reported++;
        } else {
          // Came after the upgrade was done: nothing to do.
          assert.equal(r.code, 0, what);
          assert.match(r.stdout, /nothing to upgrade to m5\.large|skip web-03: already/, what);
          noop++;
        }
      }
      assert.ok(reported >= 1, `at least one process without --wait met the holder (${reported} did, ${noop} no-ops)`);

      // Never unserved, never two serving; the record moved once, from generation 1 to 2.
      assert.deepEqual(seen.problems, [], 'every name served by one live converged instance at every sample');
      assert.ok(seen.samples > 100, `sampled ${seen.samples} times`);
      assert.deepEqual(
        seen.record.map((x) => x.generation),
        [before.generation, before.generation + 1],
        `generations committed to DNS, no gaps: ${JSON.stringify(seen.record)}`,
      );
      const now = assertFleetInvariants(cloud.control, info(f, snapshot));
      const served = now.served.get('web-03')!;
      assert.equal(served.instanceType, 'm5.large');
      assert.equal(served.generation, before.generation + 1);
      assert.equal(seen.record[1]!.instanceId, served.instanceId);
      // One launch only, across ten processes.
      assert.deepEqual(
        instancesOf(f, 'web-03').map((i) => [Number(i.tags['fleet:generation']), LIVE.has(i.state)]).sort(),
        [
          [1, false],
          [2, true],
        ],
      );
      // The journal: one replacement of web-03, under the winner's fencing token, also tagged on the instance.
      const j = journal(f);
      const replaces = [...j.values()].filter((e) => e.name === 'web-03' && e.kind === 'replace' && e.generation! > before.generation);
      assert.equal(replaces.length, 1, JSON.stringify(replaces));
      assert.equal(replaces[0]!.instanceId, served.instanceId);
      assert.equal(replaces[0]!.generation, before.generation + 1);
      assert.match(replaces[0]!.fencingToken ?? '', /^\d{10}$/);
      assert.equal(cloud.control.ec2.instance(served.instanceId)!.tags['fleet:fence'], replaces[0]!.fencingToken);
      return { winner, results, reported, noop, samples: seen.samples };
    } finally {
      cloud.control.delays.convergeMs = 5_000;
      for (const p of procs) p.kill('SIGKILL');
    }
  };

  test('ten concurrent upgrades of web-03, local coordinator: one upgrades, the rest wait or name the holder', async (t) => {
    const r = await tenUpgrades('ten-local');
    t.diagnostic(`holder reported by ${r.reported}, no-ops ${r.noop}, ${r.samples} samples`);
  });

  test('ten concurrent upgrades of web-03, ZooKeeper: one upgrades, the rest wait or name the holder', async (t) => {
    const r = await tenUpgrades('ten-zk', { connect: zk.connect });
    t.diagnostic(`holder reported by ${r.reported}, no-ops ${r.noop}, ${r.samples} samples`);
  });

  /**
   * Journal entries of `name`, in the order they appeared: one operation's entries are
   * contiguous (it held the lock throughout), and the fencing token goes up from one operation
   * to the next.
   */
  const assertJournalFenced = (f: string, name: string, order: string[]): JournalEntry[] => {
    const j = journal(f);
    const entries = order.map((k) => j.get(k)!).filter((e) => e.name === name);
    const ops: { operation: string; token: string }[] = [];
    for (const e of entries) {
      assert.match(e.fencingToken ?? '', /^\d{10}$/, `${e.key} carries a fencing token`);
      const last = ops[ops.length - 1];
      if (last && last.operation === e.operation) {
        assert.equal(e.fencingToken, last.token, `${e.key}: one operation, one token`);
        continue;
      }
      assert.ok(!ops.some((o) => o.operation === e.operation), `${e.key}: operation ${e.operation} wrote again after another held ${name}`);
      if (last) assert.ok(e.fencingToken! > last.token, `${e.key}: token ${e.fencingToken} after ${last.token}`);
      ops.push({ operation: e.operation, token: e.fencingToken! });
    }
    return entries;
  };

  for (const kind of ['local', 'zookeeper'] as const) {
    test(`upgrade, kill and apply of web-03 at once, each in its own process (${kind}): one at a time, never two serving, served at the end`, async (t) => {
      const f = `mix-${kind === 'local' ? 'lo' : 'zk'}`;
      const { config, snapshot } = await setup(f, kind === 'zookeeper' ? { connect: zk.connect } : undefined);
      cloud.control.delays.convergeMs = 20_000;
      const procs: Proc[] = [];
      try {
        // Round 1: all three at once. Round 2: the upgrade holds the name (it launched) when kill
        // and apply arrive; apply planned to collect the upgrade's new instance as an orphan.
        for (const round of [1, 2]) {
          const wait = ['--wait', '2h', '--yes', '--config', config, ...FAST];
          const type = round === 1 ? 'm5.large' : 't3a.medium';
          if (round === 2) {
            const healed = await run(['apply', '--yes', '--config', config, ...FAST]);
            assert.equal(healed.code, 0, healed.stdout + healed.stderr);
          }
          const gen = Math.max(...instancesOf(f, 'web-03').map((i) => Number(i.tags['fleet:generation'])));
          const up = spawnFleet(['upgrade', 'web-03', '--type', type, ...wait], env());
          if (round === 2) await until('the upgrade launched', 30_000, () => instancesOf(f, 'web-03').some((i) => Number(i.tags['fleet:generation']) > gen));
          const batch = [up, spawnFleet(['kill', 'web-03', ...wait], env()), spawnFleet(['apply', ...wait], env())];
          procs.push(...batch);
          const { result, seen } = await sample(f, 'web-03', Promise.all(batch.map((p) => p.done)), { mayBeUnserved: new Set(['web-03']) });
          const [upr, kill, apply] = result;
          const out = result.map((r, k) => `${['upgrade', 'kill', 'apply'][k]} exit ${r.code}:\n${r.stdout}${r.stderr}`).join('\n');
          // Whatever the order, none of them fails for the others' sake.
          assert.equal(kill!.code, 0, out);
          assert.equal(apply!.code, 0, out);
          // The upgrade may find web-03 killed (before it read, or while it waited for the lock): it says so, exit 1.
          assert.ok(upr!.code === 0 || /cannot upgrade web-03: it is not served|web-03 changed while this upgrade waited for it: it is not served/.test(upr!.stdout + upr!.stderr), out);
          assert.match(kill!.stdout, /^killed i-[0-9a-f]+;|nothing to kill/m, out);
          if (round === 2) {
            assert.match(upr!.stdout, new RegExp(`^done: web-03 -> i-[0-9a-f]+ \\(${esc(type)} `, 'm'), out);
            assert.match(kill!.stdout, /^killed i-[0-9a-f]+;/m, out);
          }
          // The record is never deleted, never holds two values, never points at two live instances.
          assert.deepEqual(seen.problems, [], out);
          const gens = seen.record.map((x) => x.generation).filter((g): g is number => g !== undefined);
          for (let k = 1; k < gens.length; k++) assert.ok(gens[k]! > gens[k - 1]!, `generations committed to DNS only go up: ${JSON.stringify(seen.record)}`);
          const entries = assertJournalFenced(f, 'web-03', seen.journalOrder);
          t.diagnostic(`round ${round}: ${entries.map((e) => `${e.kind}@${Number(e.fencingToken)}`).join(' -> ')}; record generations ${gens.join(' -> ')}; upgrade exit ${upr!.code}`);
        }
        // A kill may have come last: the next apply rebuilds the name, and then all is well.
        const final = await run(['apply', '--yes', '--config', config, ...FAST]);
        assert.equal(final.code, 0, final.stdout + final.stderr);
        const now = assertFleetInvariants(cloud.control, info(f, snapshot));
        assert.ok(now.served.get('web-03')!.generation > snapshot.served.get('web-03')!.generation);
      } finally {
        cloud.control.delays.convergeMs = 5_000;
        for (const p of procs) p.kill('SIGKILL');
      }
    });
  }

  test(
    'an upgrade waiting for web-03 while someone else kills it: re-planned under the lock, it says why it does nothing',
    async () => {
    const f = 'wait-kill';
    const { config } = await setup(f, { connect: zk.connect });
    const other = new ZooKeeperCoordinator({ connect: zk.connect, fleet: f, host: 'ops-7', pid: 4412 });
    try {
      const held = await other.lock('web-03', { operation: 'kill' });
      const up = spawnFleet(['upgrade', 'web-03', '--type', 'm5.large', '--wait', '2h', '--yes', '--config', config, ...FAST], env());
      await until('the upgrade waits', 20_000, () => /web-03 is being killed by ops-7 \(pid 4412\) since \d\d:\d\d:\d\d; waiting up to 2 h/.test(up.out.stderr));
      cloud.control.ec2.terminate(instancesOf(f, 'web-03').find((i) => LIVE.has(i.state))!.instanceId);
      await held.release();
      const r = await up.done;
      assert.equal(r.code, 1, 'the upgrade could not do what it was asked');
      assert.doesNotMatch(r.stdout, /^done:/m, r.stdout);
      // Nothing launched for web-03 by the upgrade: only the first generation exists.
      assert.deepEqual(instancesOf(f, 'web-03').map((i) => i.tags['fleet:generation']), ['1']);
      assert.doesNotMatch(r.stdout, /already m5\.large/, `it must not claim web-03 is m5.large: ${r.stdout}`);
      assert.match(r.stdout + r.stderr, /web-03.*(not served|no live|dead)/, r.stdout);
    } finally {
      await other.close();
    }
  },
  );

  test('an unreachable ZooKeeper (127.0.0.1:1): upgrade, apply, locks and controller fail within bounded time, naming it, changing nothing', async (t) => {
    const f = 'nozk';
    await setup(f);
    // The same fleet, now told to coordinate through a port where nothing listens; hub-01 and
    // web-01 need a heal, one at a time (concurrency 1): apply tries to connect once, not per name.
    const config = writeConfig(yaml(f, { zk: { connect: '127.0.0.1:1' }, concurrency: 1 }));
    for (const n of ['hub-01', 'web-01']) cloud.control.ec2.terminate(instancesOf(f, n).find((i) => LIVE.has(i.state))!.instanceId);
    await until('hub-01 and web-01 terminated', 10_000, () => !instancesOf(f, 'web-01').some((i) => LIVE.has(i.state)) && !instancesOf(f, 'hub-01').some((i) => LIVE.has(i.state)));
    cloud.control.resetCalls();
    const commands = [
      ['upgrade', 'web-03', '--type', 'm5.large', '--yes', '--config', config, ...FAST],
      ['apply', '--yes', '--config', config, ...FAST],
      ['locks', '--config', config],
      ['controller', '--config', config, ...FAST],
    ];
    const started = Date.now();
    const results = await Promise.all(
      commands.map(async (args) => {
        const p = spawnFleet(args, env(), 30_000);
        const r = await p.done;
        return { args, r, ms: Date.now() - started };
      }),
    );
    for (const { args, r, ms } of results) {
      const what = `fleet ${args.slice(0, 2).join(' ')} (${ms} ms, exit ${r.code}): ${r.stdout}${r.stderr}`;
      // Bounded by spawnFleet's 30 s (it kills the child, and the exit code below fails), not by
      // a wall-time assertion: the machine is shared.
      assert.equal(r.code, 1, what);
      assert.match(r.stdout + r.stderr, /cannot coordinate through ZooKeeper at 127\.0\.0\.1:1: no ZooKeeper session within \d+\.\d s \(127\.0\.0\.1:1: connection refused\)/, what);
      assert.doesNotMatch(r.stderr, /unexpected failure|\n\s+at /, `no stack: ${what}`);
    }
    t.diagnostic(results.map(({ args, ms }) => `${args.slice(0, 2).join(' ')} ${ms} ms`).join(', '));
    const apply = results[1]!.r;
    assert.match(apply.stdout, /^0 of 2 actions done, 2 failed/m, apply.stdout);
    assert.equal(apply.stderr.match(/ZooKeeper session connecting -> closed/g)?.length, 1, `one connection attempt for both names: ${apply.stderr}`);
    assert.deepEqual(mutating(cloud.control.calls()), {}, 'no mutating call');
    assert.equal(instancesOf(f, 'web-01').filter((i) => LIVE.has(i.state)).length, 0, 'web-01 not healed without a lock');
  });

  test('ZooKeeper stopped and restarted within the session timeout during an upgrade: it completes or rolls back; never two serving, never none', async (t) => {
    const f = 'zk-blip';
    const { config, snapshot } = await setup(f, { connect: zk.connect, sessionTimeout: '10s' });
    cloud.control.delays.convergeMs = 100_000; // 5 s here: the outage falls inside the wait for convergence
    let up: Proc | undefined;
    try {
      up = spawnFleet(['upgrade', 'web-03', '--type', 'm5.large', '--yes', '--config', config, ...FAST], env());
      const work = (async () => {
        await until('the upgrade launched', 30_000, () => instancesOf(f, 'web-03').some((i) => i.tags['fleet:generation'] === '2'));
        const t0 = Date.now();
        await zk.stop();
        await zk.start();
        const outageMs = Date.now() - t0;
        return { outageMs, result: await up!.done };
      })();
      const { result, seen } = await sample(f, 'web-03', work);
      const r = result.result;
      t.diagnostic(`ZooKeeper down ${result.outageMs} ms; upgrade exit ${r.code}`);
      assert.deepEqual(seen.problems, [], 'never unserved, never two serving');
      if (r.code === 0) {
        assert.match(r.stdout, /^done: web-03 -> i-[0-9a-f]+ \(m5\.large /m, r.stdout);
      } else {
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stdout, /FAILED: web-03: lock web-03 may be lost: .*; rolled back/, r.stdout);
        assert.deepEqual(seen.record.map((x) => x.generation), [1], 'a rollback leaves DNS alone');
      }
      cloud.control.delays.convergeMs = 5_000;
      const final = await run(['apply', '--yes', '--config', config, ...FAST]);
      assert.equal(final.code, 0, final.stdout + final.stderr);
      assertFleetInvariants(cloud.control, info(f, snapshot));
    } finally {
      cloud.control.delays.convergeMs = 5_000;
      up?.kill('SIGKILL');
    }
  });

  test('ZooKeeper crashed past the session timeout during an upgrade: the upgrade stops before its next side effect (fencing), rolls back, and the next one proceeds', async (t) => {
    const f = 'zk-loss';
    const { config, snapshot } = await setup(f, { connect: zk.connect, sessionTimeout: '4s' });
    const old = snapshot.served.get('web-03')!;
    cloud.control.delays.convergeMs = 140_000; // 7 s here: longer than the outage
    const procs: Proc[] = [];
    try {
      const a = spawnFleet(['upgrade', 'web-03', '--type', 'm5.large', '--yes', '--config', config, ...FAST], env());
      procs.push(a);
      const work = (async () => {
        const launched = await until('the upgrade launched', 30_000, () => instancesOf(f, 'web-03').find((i) => i.tags['fleet:generation'] === '2'));
        await zk.kill();
        const atLoss = { changes: cloud.control.route53.changes(), terminates: cloud.control.calls()['ec2:TerminateInstances'] ?? 0, at: Date.now() };
        await new Promise((r) => setTimeout(r, 5000)); // > 4 s session timeout
        await zk.start();
        const ra = await a.done;
        const atExit = { changes: cloud.control.route53.changes(), terminates: cloud.control.calls()['ec2:TerminateInstances'] ?? 0, at: Date.now() };
        return { launched, atLoss, atExit, ra };
      })();
      const { result, seen } = await sample(f, 'web-03', work);
      const { launched, atLoss, atExit, ra } = result;
      t.diagnostic(`upgrade A ended ${atExit.at - atLoss.at} ms after the crash: exit ${ra.code}`);
      // A stopped and said why.
      assert.equal(ra.code, 1, ra.stdout + ra.stderr);
      assert.match(ra.stdout, new RegExp(`^FAILED: web-03: lock web-03 may be lost: .*; stopping before the next step; rolled back \\(${launched.instanceId} terminated, DNS untouched\\)`, 'm'), ra.stdout);
      // Fencing: after the loss, no DNS change, no termination but of its own new instance.
      assert.equal(atExit.changes, atLoss.changes, 'no DNS change after the session was lost');
      assert.ok(atExit.terminates - atLoss.terminates <= 1, 'at most the rollback of its own instance');
      assert.equal(cloud.control.ec2.instance(old.instanceId)!.state, 'running', 'the serving instance was not terminated');
      assert.match(cloud.control.ec2.instance(launched.instanceId)!.state, /^(shutting-down|terminated)$/, 'its own new instance rolled back');
      assert.deepEqual(seen.problems, [], 'never unserved, never two serving');
      assert.deepEqual(seen.record.map((x) => x.instanceId), [old.instanceId], 'the record never left the old instance');
      assert.ok(![...journal(f).values()].some((e) => e.kind === 'replace' && e.instanceId === launched.instanceId), 'nothing journaled as replaced by A');
      assertFleetInvariants(cloud.control, info(f, snapshot));

      // The next operator gets the name (a new session, a larger fencing token) and upgrades it.
      cloud.control.delays.convergeMs = 5_000;
      const b = spawnFleet(['upgrade', 'web-03', '--type', 'm5.large', '--wait', '30m', '--yes', '--config', config, ...FAST], env());
      procs.push(b);
      const rb = await b.done;
      assert.equal(rb.code, 0, rb.stdout + rb.stderr);
      const now = assertFleetInvariants(cloud.control, info(f, snapshot)).served.get('web-03')!;
      assert.equal(now.instanceType, 'm5.large');
      const tokenA = launched.tags['fleet:fence']!;
      const tokenB = cloud.control.ec2.instance(now.instanceId)!.tags['fleet:fence']!;
      assert.match(tokenA, /^\d{10}$/);
      assert.ok(tokenB > tokenA, `fencing token ${tokenB} after ${tokenA}`);
    } finally {
      cloud.control.delays.convergeMs = 5_000;
      for (const p of procs) p.kill('SIGKILL');
    }
  });
});
