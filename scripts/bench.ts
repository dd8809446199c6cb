/**
 * `npm run bench`: performance targets as counts and ratios, never as timed tests.
 *
 * Start-up (scripts/bench-startup.ts): CPU of `fleet --help`, `fleet plan --help` and
 * `fleet validate` against `node -e 0` and `aws --version`, medians of 7 interleaved runs
 * (FLEET_BENCH_STARTUP=0 skips it).
 *
 * Inventory (`fleet ls`) for 1,000, 10,000 and 100,000 names, with the local cloud's AWS-like
 * throttling on (Route 53: 50 / 10 per second): API calls made against the minimum
 * (ceil(records/300) record pages + ceil(instances/1000) instance pages + 1 zone lookup),
 * throttled calls (goal 0), wall time against Route 53's floor ((requests - 50) / 10 s, goal
 * <= 1.1x), CPU (goal <= 5 s at 100,000) and peak memory (goal <= 300 MB at 100,000) of the CLI
 * and of the local cloud, each measured in its own process. Set FLEET_BENCH_SIZES=1000,10000
 * to run fewer sizes (0 skips it).
 *
 * `npm run bench -- --quick`: the CI-sized run (see quickDefaults).
 *
 * Lifecycle (scripts/bench-lifecycle.ts), with AWS-like throttling on and the local cloud's
 * clock FLEET_BENCH_SPEED (default 20) times faster than real time: an apply from empty of
 * FLEET_BENCH_APPLY names (default 10,000) and a rolling upgrade of a role of
 * FLEET_BENCH_UPGRADE names (default 1,000); 0 skips one. Simulated seconds against the floor
 * the RunInstances buckets impose; RunInstances, ChangeResourceRecordSets, GetChange and
 * DescribeInstances calls against their minimum; throttled calls; the CLI's peak memory.
 * FLEET_BENCH_CONCURRENCY (reconcile.concurrency, default 250), FLEET_BENCH_SURGE
 * (--max-surge, default 250), FLEET_BENCH_POLL_MS (default 2000), FLEET_BENCH_TTL (default 60),
 * FLEET_BENCH_DNS_SYNC_MS (the local cloud's PENDING -> INSYNC time, default 1000).
 * Spot handler (scripts/bench-interruption.ts; FLEET_BENCH_SPOT=0 skips it): the Lambda bundle's
 * size, its cold init, and warning -> DNS in simulated seconds with and without a standby.
 * A scenario that does not end with every name done exits 1 after printing its numbers.
 *
 * Chaos (scripts/bench-chaos.ts): a 30-night rehearsal of the example fleet.yaml; per role the
 * time-to-rebuilt p95 against the budget and unserved name-minutes per night.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { control, envInt, mb, printTable, runFleet, startSim } from './bench-common.js';
import { benchApply, benchUpgrade, lifecycleOptions } from './bench-lifecycle.js';
import { benchCoord } from './bench-coord.js';
import { benchChaos } from './bench-chaos.js';
import { benchValidate } from './bench-validate.js';
import { printStartup } from './bench-startup.js';
import { benchInterruption } from './bench-interruption.js';

function fleetYaml(n: number): string {
  return `fleet: bench
region: us-east-1
dns:
  zone: bench.example.com
  record-quota: 1000000
naming:
  index-digits: 6
hub: web-000001
journal:
  bucket: bench-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001]
  security-groups: [sg-0123456789abcdef0]
roles:
  web:
    count: ${n}
    type: t3.medium
`;
}

async function benchInventory(n: number): Promise<Record<string, string | number>[]> {
  const sim = await startSim();
  try {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-bench-'));
    const config = join(dir, 'fleet.yaml');
    writeFileSync(config, fleetYaml(n));
    const env = { AWS_ENDPOINT_URL: sim.endpoint, AWS_REGION: 'us-east-1' };
    const init = await runFleet(['init', '--config', config], env);
    if (init.code !== 0) throw new Error(`fleet init failed: ${init.stderr}`);
    const name = (i: number) => `web-${String(i + 1).padStart(6, '0')}`;
    const ids: string[] = [];
    for (let start = 0; start < n; start += 20_000) {
      const chunk = Array.from({ length: Math.min(20_000, n - start) }, (_, k) => ({
        instanceType: 't3.medium',
        az: ['us-east-1a', 'us-east-1b', 'us-east-1c'][(start + k) % 3],
        market: (start + k) % 2 ? 'spot' : 'on-demand',
        converged: true,
        tags: { 'fleet:fleet': 'bench', 'fleet:name': name(start + k), 'fleet:role': 'web', 'fleet:generation': '1' },
      }));
      const out = await control(sim.endpoint, '/seed/instances', { instances: chunk });
      ids.push(...(out.instanceIds as string[]));
    }
    // Addresses come from the cloud's own view of the seeded instances.
    const ipsOut = await runFleet(['--json', 'ls', '--config', config], env);
    const inv = JSON.parse(ipsOut.stdout) as { orphans: { instance: { id: string; privateIp: string; name: string } }[] };
    const records = inv.orphans.map((o) => ({ name: `${o.instance.name}.bench.example.com`, type: 'A', ttl: 60, values: [o.instance.privateIp] }));
    for (let start = 0; start < records.length; start += 20_000) {
      await control(sim.endpoint, '/seed/records', { zone: 'bench.example.com', records: records.slice(start, start + 20_000) });
    }

    // AWS's Route 53 rate modelled (account and per-action buckets, 50 / 10 per second) and
    // EC2's: the listing must be paced at that rate, never throttled. Each command starts with
    // the account's buckets full (a cold account, as the floor assumes).
    const rows: Record<string, string | number>[] = [];
    // `ls` as a table for people too at the largest size: its own output path.
    for (const command of n >= 100_000 ? ['ls', 'ls (table)', 'plan'] : ['ls']) {
      await control(sim.endpoint, '/throttling', { on: true });
      await control(sim.endpoint, '/calls/reset', {});
      const table = command === 'ls (table)';
      const run = await runFleet([...(table ? [] : ['--json']), table ? 'ls' : command, '--config', config], env);
      if (run.code !== 0) throw new Error(`fleet ${command} failed: ${run.stderr}`);
      if (table) {
        if (!new RegExp(`^${n} names \\(${n} desired\\), ${n} served`, 'm').test(run.stdout)) throw new Error(`fleet ls: expected ${n} served names in its summary line`);
      } else if (command === 'ls') {
        const result = JSON.parse(run.stdout) as { summary: { served: number; names: number } };
        if (result.summary.served !== n) throw new Error(`expected ${n} served names, got ${result.summary.served}`);
      } else {
        const plan = JSON.parse(run.stdout) as { actions: unknown[] };
        if (plan.actions.length !== 0) throw new Error(`expected an empty plan, got ${plan.actions.length} actions`);
      }
      const calls = (await control(sim.endpoint, '/calls')) as Record<string, number>;
      const throttled = (await control(sim.endpoint, '/throttled')) as Record<string, number>;
      const health = await control(sim.endpoint, '/health');
      // The listing's calls only: plan also runs its preflight (one call per catalog lookup).
      const listing = ['route53:ListResourceRecordSets', 'route53:ListHostedZonesByName', 'ec2:DescribeInstances'];
      const total = listing.reduce((a, k) => a + (calls[k] ?? 0), 0);
      const recordSets = n + 2; // + SOA and NS at the apex
      const minimum = Math.ceil(recordSets / 300) + Math.ceil(n / 1000) + 1;
      // Route 53's floor: its requests (zone lookup + record pages) past the burst of 50, at 10 per second.
      const r53Requests = (calls['route53:ListResourceRecordSets'] ?? 0) + (calls['route53:ListHostedZonesByName'] ?? 0);
      const floorS = Math.max(0, (r53Requests - 50) / 10);
      rows.push({
        command: `fleet ${command}`,
        names: n,
        'listing calls': total,
        minimum,
        'calls / minimum': (total / minimum).toFixed(2),
        throttled: Object.values(throttled).reduce((a, b) => a + b, 0),
        'record pages': calls['route53:ListResourceRecordSets'] ?? 0,
        'instance pages': calls['ec2:DescribeInstances'] ?? 0,
        'wall time': `${(run.ms / 1000).toFixed(2)} s`,
        'Route 53 floor': floorS > 0 ? `${floorS.toFixed(1)} s` : 'in burst',
        'wall / floor': floorS > 0 ? `${(run.ms / 1000 / floorS).toFixed(2)} (<= 1.1)` : '-',
        'CLI CPU': `${(run.cpuMs / 1000).toFixed(2)} s${n >= 100_000 ? ' (<= 5)' : ''}`,
        'CLI peak RSS': `${mb(run.maxRssBytes)}${n >= 100_000 ? ' (<= 300 MB)' : ''}`,
        'local cloud peak RSS': mb(health.maxRssBytes as number),
      });
    }
    return rows;
  } finally {
    sim.stop();
  }
}

/**
 * `--quick` (what CI can run, under 5 minutes on 2 cores): start-up, fleet ls at 1,000 and
 * 10,000 names, an apply from empty of 500 names, a rolling upgrade of 100, no coordination
 * bench. Each FLEET_BENCH_* variable still overrides its part.
 */
function quickDefaults(): void {
  const set = (k: string, v: string) => {
    process.env[k] ??= v;
  };
  set('FLEET_BENCH_SIZES', '1000,10000');
  set('FLEET_BENCH_APPLY', '500');
  set('FLEET_BENCH_UPGRADE', '100');
  set('FLEET_BENCH_COORD', '0');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  if (quick) quickDefaults();
  const failed: string[] = [];
  if (envInt('FLEET_BENCH_STARTUP', 1) > 0) {
    if (!printStartup(envInt('FLEET_BENCH_STARTUP_RUNS', 7))) failed.push('start-up goals');
    console.log('');
  }
  if (process.env['FLEET_BENCH_VALIDATE'] !== '0') {
    await benchValidate();
    console.log('');
  }
  const sizes = (process.env['FLEET_BENCH_SIZES'] ?? '1000,10000,100000')
    .split(',')
    .map(Number)
    .filter((n) => n > 0);
  if (sizes.length > 0) {
    console.log("fleet ls — AWS's Route 53 and EC2 rates modelled: API calls against the minimum, throttled calls, wall time against Route 53's floor, CLI CPU and peak memory");
    const rows: Record<string, string | number>[] = [];
    for (const n of sizes) rows.push(...(await benchInventory(n)));
    printTable(rows, ['command']);
  }

  const o = lifecycleOptions();
  const applyN = envInt('FLEET_BENCH_APPLY', 10_000);
  const upgradeN = envInt('FLEET_BENCH_UPGRADE', 1_000);
  const notes: string[] = [];
  if (applyN > 0) {
    console.log(`\nfleet apply from empty, ${applyN} names — throttling on, local cloud clock ${o.speed}x, times in simulated seconds`);
    const r = await benchApply(applyN, o);
    printTable(r.rows, ['measure', 'value', 'against']);
    notes.push(r.details);
    if (!r.ok) failed.push('apply');
  }
  if (upgradeN > 0) {
    console.log(`\nfleet upgrade ROLE, ${upgradeN} names to another type — throttling on, local cloud clock ${o.speed}x, times in simulated seconds`);
    const r = await benchUpgrade(upgradeN, o);
    printTable(r.rows, ['measure', 'value', 'against']);
    notes.push(r.details);
    if (!r.ok) failed.push('upgrade');
  }
  await benchCoord();
  if (envInt('FLEET_BENCH_SPOT', 1) > 0) {
    console.log('\nspot handler — the Lambda bundle, its cold start, warning -> DNS (simulated seconds, 120 s budget)');
    const r = await benchInterruption();
    printTable(r.rows, ['measure', 'value', 'against']);
    if (!r.ok) failed.push('spot handler');
  }
  if (!(await benchChaos()).ok) failed.push('chaos rehearsal');
  if (notes.length > 0) console.log(`\n${notes.join('\n')}`);
  if (failed.length > 0) {
    console.log(`\nFAILED: ${failed.join(', ')} (see above)`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
