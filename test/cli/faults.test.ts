/**
 * Each fault knob of the local cloud during an apply and during an upgrade, through the real
 * CLI and the real SDK clients: capacity errors (fallback to the next type, AZ, market; strict
 * --type never changes type), throttling (completes, paced by the client-side limiter), 5xx
 * (SDK retries, no double launch), eventual consistency (no false "missing", no duplicate
 * launch), convergence timeouts and spot interruptions (rollback, nothing left behind).
 *
 * The local cloud runs SPEED times faster than real time and the CLI gets --time-scale SPEED,
 * so every simulated boot, convergence, TTL and timeout takes a tenth of the time.
 */
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import type { InstanceView } from '../../src/sim/ec2/instances.js';
import { fleet, writeConfig, type CliResult } from './helpers.js';
import { assertFleetInvariants, sampleWhile } from './invariants.js';

const SPEED = 20;
const OPS = ['--time-scale', String(SPEED), '--poll-ms', '250'];
const SUBNET_A = 'subnet-0aa00000000000001';
const SUBNET_B = 'subnet-0bb00000000000002';

interface Shape {
  web?: number;
  convergeTimeout?: string;
  /** Extra keys of the web role (YAML, 4 spaces). */
  web2?: string;
}

/** A fleet with a hub and a spot web role that has alternatives and the on-demand fallback. */
function yaml(name: string, s: Shape = {}): string {
  return `fleet: ${name}
region: us-east-1
dns:
  zone: ${name}.example.com
  ttl: 1
hub: hub-01
journal:
  bucket: ${name}-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [${SUBNET_A}, ${SUBNET_B}]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub:
    count: 1
    type: t3.small
  web:
    count: ${s.web ?? 3}
    type: t3.medium
    alternatives: [t3a.medium, m5.large]
    market: spot
    on-demand-fallback: true
${s.web2 ?? ''}reconcile:
  orphan-grace: 0s
  converge-timeout: ${s.convergeTimeout ?? '2m'}
  concurrency: 20
`;
}

function names(s: Shape = {}): string[] {
  return ['hub-01', ...Array.from({ length: s.web ?? 3 }, (_, i) => `web-${String(i + 1).padStart(2, '0')}`)];
}

const LIVE = new Set(['pending', 'running']);

/**
 * A proxy in front of the local cloud that can lose responses: the cloud does the work, the
 * client gets a 5xx instead of the answer (a dropped connection or a gateway error after the
 * server acted). The SDK then retries a call that already happened.
 */
interface LossyProxy {
  endpoint: string;
  /** Lose the responses of the next `n` requests whose `Action` (EC2) or path (Route 53) matches. */
  loseNext(match: RegExp, n: number): void;
  lost: string[];
  close(): Promise<void>;
}

async function lossyProxy(target: string): Promise<LossyProxy> {
  const to = new URL(target);
  const rules: { match: RegExp; n: number }[] = [];
  const lost: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const action = /(?:^|&)Action=(\w+)/.exec(body.toString('latin1'))?.[1];
      const what = `${req.method} ${req.url}${action ? ` ${action}` : ''}`;
      const rule = rules.find((r) => r.n > 0 && r.match.test(what));
      if (rule) rule.n--;
      const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
        const back: Buffer[] = [];
        ur.on('data', (c: Buffer) => back.push(c));
        ur.on('end', () => {
          if (rule && (ur.statusCode ?? 500) < 300) {
            lost.push(what);
            const xml = action
              ? '<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred</Message></Error></Errors><RequestID>lost</RequestID></Response>'
              : '<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>lost</Message></Error><RequestId>lost</RequestId></ErrorResponse>';
            res.writeHead(action ? 500 : 503, { 'content-type': 'text/xml' });
            res.end(xml);
            return;
          }
          res.writeHead(ur.statusCode ?? 500, ur.headers);
          res.end(Buffer.concat(back));
        });
      });
      up.on('error', (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    loseNext: (match, n) => void rules.push({ match, n }),
    lost,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

describe('fault knobs of the local cloud during apply and upgrade', () => {
  let cloud: LocalCloud;
  before(async () => {
    cloud = await startLocalCloud({ clockSpeed: SPEED });
  });
  after(async () => {
    await cloud.close();
  });
  afterEach(() => {
    cloud.control.faults.reset();
    cloud.control.ec2.setConvergence(undefined);
    cloud.control.resetCalls();
  });

  const instancesOf = (f: string): InstanceView[] => cloud.control.ec2.instances().filter((i) => i.tags['fleet:fleet'] === f);
  const liveOf = (f: string, name?: string): InstanceView[] => instancesOf(f).filter((i) => LIVE.has(i.state) && (name === undefined || i.tags['fleet:name'] === name));
  const recordOf = (f: string, name: string): string[] | undefined =>
    cloud.control.route53.records(`${f}.example.com`).find((r) => r.type === 'A' && r.name === `${name}.${f}.example.com.`)?.values;
  /** The instance a name's record points at (undefined: no record, or nothing has that address). */
  const servedBy = (f: string, name: string): InstanceView | undefined => {
    const v = recordOf(f, name);
    return v?.length === 1 ? instancesOf(f).find((i) => i.privateIpAddress === v[0]) : undefined;
  };

  /**
   * The invariants after a successful operation: every desired name has a record pointing at
   * exactly one live converged instance tagged with that name; no live tagged instance of the
   * fleet without a record pointing at it; exactly one live instance per name.
   */
  const assertConverged = (f: string, desired: string[]): void => {
    const served = new Set<string>();
    for (const n of desired) {
      const v = recordOf(f, n);
      assert.ok(v, `${n} has a record`);
      assert.equal(v.length, 1, `${n}'s record has one value`);
      const owners = instancesOf(f).filter((i) => i.privateIpAddress === v[0] && LIVE.has(i.state));
      assert.equal(owners.length, 1, `${n}'s record points at exactly one live instance`);
      const i = owners[0]!;
      assert.equal(i.state, 'running', `${n}: ${i.instanceId} is running`);
      assert.ok(i.tags['fleet:converged'], `${n}: ${i.instanceId} is converged`);
      assert.equal(i.tags['fleet:name'], n, `${n}: ${i.instanceId} is tagged with the name`);
      assert.equal(liveOf(f, n).length, 1, `${n}: exactly one live instance`);
      served.add(i.instanceId);
    }
    const stray = liveOf(f).filter((i) => !served.has(i.instanceId));
    assert.deepEqual(
      stray.map((i) => `${i.instanceId} ${i.tags['fleet:name']}`),
      [],
      'no live instance of the fleet without a record',
    );
  };

  const init = async (f: string, s: Shape = {}): Promise<string> => {
    const config = writeConfig(yaml(f, s));
    const r = await fleet(['init', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(r.code, 0, r.stderr);
    return config;
  };
  const apply = (config: string, extra: string[] = []): Promise<CliResult> =>
    fleet(['apply', '--yes', '--config', config, ...OPS, ...extra], { endpoint: cloud.endpoint });
  const upgrade = (config: string, target: string, extra: string[]): Promise<CliResult> =>
    fleet(['upgrade', target, '--yes', '--config', config, ...OPS, ...extra], { endpoint: cloud.endpoint });
  /** A fleet applied from empty, with no fault. */
  const converged = async (f: string, s: Shape = {}): Promise<string> => {
    const config = await init(f, s);
    const r = await apply(config);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assertConverged(f, names(s));
    cloud.control.resetCalls();
    return config;
  };
  /** Poll (real time) until `pick` returns something. */
  const waitFor = async <T>(what: string, pick: () => T | undefined, timeoutMs = 20_000): Promise<T> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = pick();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  describe('capacity errors', () => {
    test('apply: no spot t3.medium anywhere -> the next allowed type, and the output says what was tried', async () => {
      const f = 'cap-type';
      const config = await init(f);
      cloud.control.addCapacityRule({ instanceType: 't3.medium', market: 'spot' });
      const r = await apply(config);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assertConverged(f, names());
      for (const n of ['web-01', 'web-02', 'web-03']) {
        const i = servedBy(f, n)!;
        assert.equal(i.instanceType, 't3a.medium', `${n} on the first alternative`);
        assert.equal(i.market, 'spot', `${n} stays spot`);
        // Each name starts in its home subnet (web-02: B), then tries the other one.
        const [home, other] = n === 'web-02' ? [SUBNET_B, SUBNET_A] : [SUBNET_A, SUBNET_B];
        assert.match(r.stdout, new RegExp(`done: ${n} -> ${i.instanceId} \\(t3a\\.medium spot .*tried first: t3\\.medium spot ${home} \\(InsufficientInstanceCapacity\\), t3\\.medium spot ${other} \\(InsufficientInstanceCapacity\\)$`, 'm'));
      }
      assert.match(r.stderr, /web-01: no capacity for t3\.medium spot in subnet-0aa\S+ \(InsufficientInstanceCapacity\); trying the next shape/);
      assert.equal(servedBy(f, 'hub-01')!.instanceType, 't3.small', 'the hub is not affected');
      assert.doesNotMatch(r.stdout, /hub-01 -> .*tried first/);
    });

    test('apply: no spot capacity at all -> on-demand fallback of the role type', async () => {
      const f = 'cap-spot';
      const config = await init(f);
      cloud.control.addCapacityRule({ market: 'spot', code: 'MaxSpotInstanceCountExceeded' });
      const r = await apply(config);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assertConverged(f, names());
      for (const n of ['web-01', 'web-02', 'web-03']) {
        const i = servedBy(f, n)!;
        assert.equal(i.market, 'on-demand', `${n} fell back to on-demand`);
        assert.equal(i.instanceType, 't3.medium', `${n} on-demand on the role's own type first`);
        const line = r.stdout.split('\n').find((l) => l.startsWith(`done: ${n} `))!;
        // Every spot pool was tried (3 types x 2 subnets) before on-demand.
        for (const t of ['t3.medium', 't3a.medium', 'm5.large']) {
          for (const s of [SUBNET_A, SUBNET_B]) assert.ok(line.includes(`${t} spot ${s} (MaxSpotInstanceCountExceeded)`), `${n} tried ${t} spot in ${s}: ${line}`);
        }
      }
    });

    test('apply: no capacity in one AZ -> the other subnet, same type', async () => {
      const f = 'cap-az';
      const config = await init(f);
      cloud.control.addCapacityRule({ az: 'us-east-1a' });
      const r = await apply(config);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assertConverged(f, names());
      for (const n of names()) {
        const i = servedBy(f, n)!;
        assert.equal(i.availabilityZone, 'us-east-1b', `${n} in the AZ with capacity`);
        assert.equal(i.instanceType, n === 'hub-01' ? 't3.small' : 't3.medium', `${n} keeps its type`);
      }
      // hub-01, web-01 and web-03 live in subnet A by default: they moved and say so.
      assert.match(r.stdout, new RegExp(`done: web-01 -> .*us-east-1b.*tried first: t3\\.medium spot ${SUBNET_A} \\(InsufficientInstanceCapacity\\)$`, 'm'));
      assert.match(r.stdout, new RegExp(`done: hub-01 -> .*us-east-1b.*tried first: t3\\.small on-demand ${SUBNET_A} \\(InsufficientInstanceCapacity\\)$`, 'm'));
      assert.doesNotMatch(r.stdout.split('\n').find((l) => l.startsWith('done: web-02 '))!, /tried first/, 'web-02 lives in subnet B: nothing failed');
    });

    test('upgrade --type: no capacity for the type in one AZ -> another AZ, never another type', async () => {
      const f = 'cap-up-az';
      const config = await converged(f);
      const before = servedBy(f, 'web-01')!;
      assert.equal(before.availabilityZone, 'us-east-1a');
      cloud.control.addCapacityRule({ instanceType: 'm5.large', az: 'us-east-1a' });
      const r = await upgrade(config, 'web-01', ['--type', 'm5.large']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const after = servedBy(f, 'web-01')!;
      assert.notEqual(after.instanceId, before.instanceId);
      assert.equal(after.instanceType, 'm5.large');
      assert.equal(after.availabilityZone, 'us-east-1b');
      assert.equal(after.tags['fleet:generation'], '2');
      assert.match(r.stdout, new RegExp(`done: web-01 -> ${after.instanceId} \\(m5\\.large spot, generation 2\\); ${before.instanceId} terminated`));
      assert.match(r.stderr, /web-01: no capacity for m5\.large spot in subnet-0aa\S+/);
      assert.ok(!LIVE.has(cloud.control.ec2.instance(before.instanceId)!.state), 'the old instance is terminated');
      assertConverged(f, names());
    });

    // An upgrade that does not ask for a market keeps the role's on-demand fallback.
    test('upgrade --image: no spot capacity at all -> the role\'s on-demand fallback, as apply would', async () => {
      const f = 'cap-up-img';
      const config = await converged(f);
      cloud.control.addCapacityRule({ market: 'spot' });
      const r = await upgrade(config, 'web-01', ['--image', 'ami-0d12a0000000000a1']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const now = servedBy(f, 'web-01')!;
      assert.equal(now.imageId, 'ami-0d12a0000000000a1');
      assert.equal(now.market, 'on-demand');
      assertConverged(f, names());
    });

    test('upgrade --type: no capacity for the type anywhere -> exit 1, rolled back, nothing left behind', async () => {
      const f = 'cap-up-none';
      const config = await converged(f);
      const before = servedBy(f, 'web-02')!;
      const count = instancesOf(f).length;
      cloud.control.addCapacityRule({ instanceType: 'm5.large' });
      const r = await upgrade(config, 'web-02', ['--type', 'm5.large']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /FAILED: no capacity for web-02: tried m5\.large spot in subnet-0bb\S+ \(InsufficientInstanceCapacity\); m5\.large spot in subnet-0aa\S+ \(InsufficientInstanceCapacity\)/);
      // Strict: the type is never swapped for another one, whatever the role allows.
      const tried = /tried (.*)$/m.exec(r.stdout)![1]!;
      assert.doesNotMatch(tried, /t3a\.medium|t3\.medium/, 'never another type');
      assert.equal(instancesOf(f).length, count, 'nothing was launched');
      assert.equal(servedBy(f, 'web-02')!.instanceId, before.instanceId, 'the record is unchanged');
      assert.equal(cloud.control.ec2.instance(before.instanceId)!.state, 'running');
      assert.equal(cloud.control.calls()['route53:ChangeResourceRecordSets'] ?? 0, 0, 'DNS untouched');
      assert.doesNotMatch(r.stdout, /fleet\.yaml/, 'no edit suggested for a change that did not happen');
      assertConverged(f, names());
    });
  });

  describe('throttling', () => {
    test('apply of 30 names with AWS-like throttling completes; the limiter keeps throttled calls few', async (t) => {
      const s = { web: 30 };
      const f = 'thr';
      const config = await init(f, s);
      cloud.control.setThrottling(true);
      cloud.control.faults.throttled.clear();
      const started = Date.now();
      const r = await apply(config);
      const ms = Date.now() - started;
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /31 of 31 actions done/);
      assertConverged(f, names(s));
      assert.equal(instancesOf(f).length, 31, 'one launch per name');
      const throttled = Object.fromEntries(cloud.control.faults.throttled);
      const total = Object.values(throttled).reduce((a, b) => a + b, 0);
      t.diagnostic(`throttled calls: ${JSON.stringify(throttled)} in ${ms} ms; calls: ${JSON.stringify(cloud.control.calls())}`);
      assert.ok(total <= 10, `few throttled calls (the limiter paces requests): ${JSON.stringify(throttled)}`);
    });

    test('apply with a RunInstances bucket tighter than the limiter expects still completes (SDK retries)', async (t) => {
      const s = { web: 12 };
      const f = 'thr-tight';
      const config = await init(f, s);
      cloud.control.setThrottling(true, { 'ec2:run-instances': { burst: 2, refillPerSec: 1 } });
      cloud.control.faults.throttled.clear();
      const r = await apply(config);
      const throttled = Object.fromEntries(cloud.control.faults.throttled);
      t.diagnostic(`throttled calls: ${JSON.stringify(throttled)}`);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assertConverged(f, names(s));
      assert.equal(instancesOf(f).length, 13, 'no double launch');
      assert.ok((throttled['ec2:RunInstances'] ?? 0) > 0, 'the tight bucket did throttle');
    });

    test('upgrade of a role under throttling completes', async (t) => {
      const f = 'thr-up';
      const config = await converged(f);
      cloud.control.setThrottling(true, { 'route53:api': { burst: 1, refillPerSec: 1 }, 'ec2:run-instances': { burst: 1, refillPerSec: 1 } });
      cloud.control.faults.throttled.clear();
      const r = await upgrade(config, 'web', ['--type', 't3a.medium', '--max-surge', '3']);
      t.diagnostic(`throttled calls: ${JSON.stringify(Object.fromEntries(cloud.control.faults.throttled))}`);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      for (const n of ['web-01', 'web-02', 'web-03']) assert.equal(servedBy(f, n)!.instanceType, 't3a.medium');
      assertConverged(f, names());
    });
  });

  describe('5xx', () => {
    test('apply: RunInstances 500 twice and ChangeResourceRecordSets 503 once -> completes, one instance per name', async () => {
      const f = 'err5';
      const config = await init(f);
      cloud.control.failNext('ec2', 'RunInstances', 2, 500);
      cloud.control.failNext('route53', 'ChangeResourceRecordSets', 1, 503);
      const r = await apply(config);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assertConverged(f, names());
      assert.equal(instancesOf(f).length, 4, 'no double launch');
      const calls = cloud.control.calls();
      assert.equal(calls['ec2:RunInstances'], 4 + 2, 'the two failed calls were retried');
      assert.ok((calls['route53:ChangeResourceRecordSets'] ?? 0) >= 2, 'the failed change was retried');
    });

    test('upgrade: 5xx on RunInstances, ChangeResourceRecordSets and TerminateInstances -> completes', async () => {
      const f = 'err5-up';
      const config = await converged(f);
      const before = servedBy(f, 'web-03')!;
      cloud.control.failNext('ec2', 'RunInstances', 2, 503);
      cloud.control.failNext('route53', 'ChangeResourceRecordSets', 1, 500);
      cloud.control.failNext('ec2', 'TerminateInstances', 1, 500);
      const r = await upgrade(config, 'web-03', ['--type', 'm5.large']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const after = servedBy(f, 'web-03')!;
      assert.equal(after.instanceType, 'm5.large');
      assert.ok(!LIVE.has(cloud.control.ec2.instance(before.instanceId)!.state));
      assert.equal(instancesOf(f).length, 5, 'exactly one new instance');
      assertConverged(f, names());
    });
  });

  describe('errors the SDK gives up on', () => {
    test('apply: Route 53 answers 503 to every change -> every name rolled back, nothing left behind, exit 1; the rerun completes', async () => {
      const f = 'r53-down';
      const config = await init(f);
      cloud.control.failNext('route53', 'ChangeResourceRecordSets', 1000, 503);
      const r = await apply(config);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /0 of 4 actions done, 4 failed/);
      for (const n of names()) assert.match(r.stdout, new RegExp(`FAILED: launch ${n} generation 1.*: ${n}: changing records in zone \\w+: .*; rolled back \\(i-\\w+ terminated, DNS untouched\\)`));
      assert.deepEqual(cloud.control.route53.records(`${f}.example.com`).filter((x) => x.type === 'A'), [], 'no record');
      assert.equal(liveOf(f).length, 0, 'no live instance left behind');
      cloud.control.faults.reset();
      const again = await apply(config);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stdout, /launch web-01 generation 2/);
      assertConverged(f, names());
    });

    test('upgrade: PriorRequestNotComplete on the swap is retried (the zone was still applying a change)', async () => {
      const f = 'prnc';
      const config = await converged(f);
      cloud.control.route53.setPriorRequestNotComplete(`${f}.example.com`, 2);
      const r = await upgrade(config, 'web-02', ['--type', 'm5.large']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(servedBy(f, 'web-02')!.instanceType, 'm5.large');
      assertConverged(f, names());
    });
  });

  describe('lost responses (the cloud acted, the client got a 5xx and the SDK retried)', () => {
    let proxy: LossyProxy;
    before(async () => {
      proxy = await lossyProxy(cloud.endpoint);
    });
    after(async () => {
      await proxy.close();
    });
    const via = (args: string[]): Promise<CliResult> => fleet(args, { endpoint: proxy.endpoint });

    test('apply: lost RunInstances and ChangeResourceRecordSets answers -> one instance per name, every name served', async () => {
      const f = 'lost';
      const config = await init(f);
      proxy.loseNext(/ RunInstances$/, 2);
      proxy.loseNext(/^POST \/2013-04-01\/hostedzone\/\w+\/rrset/, 1);
      const r = await via(['apply', '--yes', '--config', config, ...OPS]);
      assert.equal(proxy.lost.length, 3, `responses lost: ${proxy.lost.join(', ')}`);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(instancesOf(f).length, 4, 'the ClientToken made the retried RunInstances return the first launch');
      assertConverged(f, names());
    });

    test('upgrade: the compare-and-swap answer is lost -> the retry conflicts with our own swap; the name stays served by the new instance', async () => {
      const f = 'lost-up';
      const config = await converged(f);
      proxy.lost.length = 0;
      const old = servedBy(f, 'web-01')!;
      proxy.loseNext(/^POST \/2013-04-01\/hostedzone\/\w+\/rrset/, 1);
      const r = await via(['upgrade', 'web-01', '--type', 't3a.medium', '--yes', '--config', config, ...OPS]);
      assert.equal(proxy.lost.length, 1);
      assert.match(r.stderr, /web-01: the swap answered .*, but the record already points at i-\w+ \(10\.[\d.]+\): swapped/);
      const now = servedBy(f, 'web-01');
      assert.ok(now && LIVE.has(now.state), `web-01 is served by a live instance (record -> ${recordOf(f, 'web-01')?.join(',')}, ${now?.instanceId} ${now?.state}): ${r.stdout}${r.stderr}`);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(now.instanceType, 't3a.medium');
      assert.ok(!LIVE.has(cloud.control.ec2.instance(old.instanceId)!.state), 'the old instance is terminated');
      assertConverged(f, names());
    });
  });

  describe('eventual consistency', () => {
    test('apply: new instances invisible for 20 s -> completes, no false "missing", no duplicate launch; ls right after is clean', async () => {
      const f = 'ec';
      const config = await init(f);
      cloud.control.setConsistencyWindow(20_000);
      const r = await apply(config);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.doesNotMatch(r.stderr, /not visible|gone|missing/i);
      assertConverged(f, names());
      assert.equal(instancesOf(f).length, 4, 'no duplicate launch');
      assert.equal(cloud.control.calls()['ec2:RunInstances'], 4);
      const ls = await fleet(['--json', 'ls', '--config', config], { endpoint: cloud.endpoint });
      assert.equal(ls.code, 0, ls.stderr);
      const inv = JSON.parse(ls.stdout) as { rows: { name: string; problems: unknown[] }[] };
      assert.deepEqual(
        inv.rows.filter((x) => x.problems.length > 0),
        [],
        'ls reports no problem',
      );
      // A rerun sees every name served: nothing to do.
      cloud.control.resetCalls();
      const again = await apply(config);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /converged: nothing to do/);
    });

    test('apply heals killed names while their replacements stay invisible for 20 s: waited out, no duplicate launch', async () => {
      const f = 'ec-heal';
      const config = await converged(f);
      // Kill two names; the replacements stay invisible longer than they take to converge.
      cloud.control.setConsistencyWindow(20_000);
      for (const n of ['web-01', 'web-02']) cloud.control.ec2.terminate(servedBy(f, n)!.instanceId);
      const r = await apply(config);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assertConverged(f, names());
      assert.equal(liveOf(f).length, 4);
      assert.equal(instancesOf(f).length, 6, 'one launch per killed name');
    });

    test('upgrade with a consistency window: completes, and a rollback of an invisible instance still terminates it', async () => {
      const f = 'ec-up';
      const config = await converged(f);
      cloud.control.setConsistencyWindow(15_000);
      const before = servedBy(f, 'web-01')!;
      const ok = await upgrade(config, 'web-01', ['--type', 't3a.medium']);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(servedBy(f, 'web-01')!.instanceType, 't3a.medium');
      assert.ok(!LIVE.has(cloud.control.ec2.instance(before.instanceId)!.state));
      assertConverged(f, names({}));

      // web-02 never converges; the 10 s timeout fires while the new instance is still invisible.
      cloud.control.ec2.setConvergence([{ names: ['web-02'], converge: 'never' }]);
      const old = servedBy(f, 'web-02')!;
      const short = writeConfig(yaml(f, { convergeTimeout: '10s' }));
      const bad = await upgrade(short, 'web-02', ['--type', 't3a.medium']);
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);
      assert.match(bad.stdout, /FAILED: web-02: .*rolled back \(i-\w+ terminated, DNS untouched\)/);
      assert.equal(servedBy(f, 'web-02')!.instanceId, old.instanceId);
      const gen2 = instancesOf(f).filter((i) => i.tags['fleet:name'] === 'web-02' && i.instanceId !== old.instanceId);
      assert.equal(gen2.length, 1);
      assert.ok(!LIVE.has(gen2[0]!.state), `the rolled-back instance is ${gen2[0]!.state}`);
      assertConverged(f, names({}));
    });
  });

  describe('convergence timeout', () => {
    test('apply: web-02 never converges -> exit 1 with the reason, the others done, its instance terminated, no record', async () => {
      const f = 'ct';
      const config = await init(f, { convergeTimeout: '30s' });
      cloud.control.ec2.setConvergence([{ names: ['web-02'], converge: 'never' }]);
      const r = await apply(config);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /FAILED: launch web-02 generation 1.*: web-02: timed out waiting for (i-\w+) to report convergence \(last seen running\); rolled back \(\1 terminated, DNS untouched\)/);
      assert.match(r.stdout, /3 of 4 actions done, 1 failed/);
      assert.equal(recordOf(f, 'web-02'), undefined, 'no record for web-02');
      const w2 = instancesOf(f).filter((i) => i.tags['fleet:name'] === 'web-02');
      assert.equal(w2.length, 1);
      assert.ok(['shutting-down', 'terminated'].includes(w2[0]!.state), w2[0]!.state);
      assertConverged(f, ['hub-01', 'web-01', 'web-03']);
    });

    test('kill-first upgrade: the new instance never converges -> exit 1, and the output says the name is left unserved until apply', async () => {
      const f = 'ct-kf';
      const config = await converged(f, { convergeTimeout: '20s' });
      const old = servedBy(f, 'web-01')!;
      cloud.control.ec2.setConvergence([{ names: ['web-01'], converge: 'never' }]);
      const r = await upgrade(config, 'web-01', ['--type', 't3a.medium', '--max-surge', '0']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /FAILED: web-01: timed out waiting for (i-\w+) to report convergence .*; rolled back \(\1 terminated, DNS untouched\); web-01 is left unserved \(its record points at [\d.]+, which no live instance has\) until `fleet apply` rebuilds it/);
      assert.deepEqual(recordOf(f, 'web-01'), [old.privateIpAddress], 'DNS untouched');
      assert.equal(liveOf(f, 'web-01').length, 0, 'nothing left behind');
      cloud.control.ec2.setConvergence(undefined);
      const healed = await apply(config);
      assert.equal(healed.code, 0, healed.stdout + healed.stderr);
      assertConverged(f, names());
    });

    test('upgrade: the new instance never converges -> exit 1, rolled back, the record still points at the running old one', async () => {
      const f = 'ct-up';
      const config = await converged(f, { convergeTimeout: '30s' });
      const old = servedBy(f, 'web-01')!;
      cloud.control.ec2.setConvergence([{ names: ['web-01'], converge: 'never' }]);
      const r = await upgrade(config, 'web-01', ['--type', 't3a.medium']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /FAILED: web-01: timed out waiting for i-\w+ to report convergence/);
      assert.equal(servedBy(f, 'web-01')!.instanceId, old.instanceId, 'record unchanged');
      assert.equal(cloud.control.ec2.instance(old.instanceId)!.state, 'running');
      const fresh = instancesOf(f).filter((i) => i.tags['fleet:name'] === 'web-01' && i.instanceId !== old.instanceId);
      assert.equal(fresh.length, 1);
      assert.ok(!LIVE.has(fresh[0]!.state));
      assert.equal(cloud.control.calls()['route53:ChangeResourceRecordSets'] ?? 0, 0, 'DNS untouched');
      assertConverged(f, names());
    });
  });

  describe('the new instance dies after the swap, before the old one is terminated', () => {
    test('upgrade: the record goes back to the old instance, which keeps running; exit 1', async () => {
      const f = 'die-after-swap';
      // A TTL of 20 s keeps the upgrade waiting after the swap long enough to act.
      const config = writeConfig(yaml(f).replace('ttl: 1', 'ttl: 20'));
      assert.equal((await fleet(['init', '--config', config], { endpoint: cloud.endpoint })).code, 0);
      assert.equal((await apply(config)).code, 0);
      const old = servedBy(f, 'web-02')!;
      const run = upgrade(config, 'web-02', ['--type', 't3a.medium']);
      const fresh = await waitFor('the swap', () => {
        const i = servedBy(f, 'web-02');
        return i && i.instanceId !== old.instanceId ? i : undefined;
      });
      cloud.control.ec2.terminate(fresh.instanceId);
      const r = await run;
      const now = servedBy(f, 'web-02');
      assert.ok(now && LIVE.has(now.state), `web-02 is served by a live instance after the upgrade (record -> ${recordOf(f, 'web-02')?.join(',')}, ${now?.instanceId} ${now?.state}): ${r.stdout}${r.stderr}`);
      assert.equal(now.instanceId, old.instanceId, 'the old instance serves again');
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`FAILED: web-02: .*${fresh.instanceId}.*(shutting-down|terminated)`));
      assertConverged(f, names());
    });
    test('apply (heal): the replacement dies after the swap -> exit 1 with the reason, and the rerun rebuilds the name', async () => {
      const f = 'die-after-heal';
      const config = writeConfig(yaml(f).replace('ttl: 1', 'ttl: 20'));
      assert.equal((await fleet(['init', '--config', config], { endpoint: cloud.endpoint })).code, 0);
      assert.equal((await apply(config)).code, 0);
      const dead = servedBy(f, 'web-01')!;
      cloud.control.ec2.terminate(dead.instanceId);
      const run = apply(config);
      const fresh = await waitFor('the swap', () => {
        const i = servedBy(f, 'web-01');
        return i && i.instanceId !== dead.instanceId ? i : undefined;
      });
      cloud.control.ec2.terminate(fresh.instanceId);
      const r = await run;
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`FAILED: launch web-01 generation 2.*: web-01: ${fresh.instanceId} is (shutting-down|terminated) after the swap; nothing else can serve the name`));
      const again = await apply(config);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stdout, /launch web-01 generation 3, then swap its record/);
      assertConverged(f, names());
    });
  });

  test('every knob at once during a role upgrade: every name stays served at every sample, and the fleet ends converged', async (t) => {
    const s = { web: 8 };
    const f = 'storm';
    const config = await converged(f, s);
    const info = { fleet: f, zone: `${f}.example.com`, names: names(s), ttl: 1 };
    const before = assertFleetInvariants(cloud.control, info);
    cloud.control.setThrottling(true, { 'ec2:run-instances': { burst: 2, refillPerSec: 1 } });
    cloud.control.setConsistencyWindow(5_000);
    cloud.control.addCapacityRule({ instanceType: 't3a.medium', az: 'us-east-1a', market: 'spot' });
    cloud.control.failNext('ec2', 'RunInstances', 2, 503);
    cloud.control.failNext('route53', 'ChangeResourceRecordSets', 1, 500);
    cloud.control.failNext('ec2', 'TerminateInstances', 1, 503);
    const { result: r, samples, problems } = await sampleWhile(cloud.control, info, upgrade(config, 'web', ['--type', 't3a.medium', '--max-surge', '4']), { servedOnly: true, everyMs: 5 });
    t.diagnostic(`${samples} samples; throttled: ${JSON.stringify(Object.fromEntries(cloud.control.faults.throttled))}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(problems, [], 'every name served by a live converged instance at every sample');
    const after = assertFleetInvariants(cloud.control, { ...info, previous: before });
    for (const n of names(s).filter((x) => x.startsWith('web'))) {
      const i = after.served.get(n)!;
      assert.equal(i.instanceType, 't3a.medium', `${n} upgraded`);
      assert.ok(!(i.az === 'us-east-1a' && i.market === 'spot'), `${n}: no t3a.medium spot capacity in us-east-1a`);
    }
    assert.equal(liveOf(f).length, 9);
  });

  describe('a generation reused with other launch parameters', () => {
    test('upgrade --image after a rolled-back generation has vanished: IdempotentParameterMismatch moves to the next generation', async () => {
      const f = 'token-reuse';
      const config = await converged(f);
      const old = servedBy(f, 'web-01')!;
      const saved = cloud.control.delays.terminatedVisibleMs;
      cloud.control.delays.terminatedVisibleMs = 1_000;
      try {
        // Generation 2 never converges and is rolled back; a second later it is gone from DescribeInstances.
        cloud.control.ec2.setConvergence([{ names: ['web-01'], converge: 'never' }]);
        const short = writeConfig(yaml(f, { convergeTimeout: '20s' }));
        const bad = await upgrade(short, 'web-01', ['--image', 'ami-0d12a0000000000a1']);
        assert.equal(bad.code, 1, bad.stdout + bad.stderr);
        await waitFor('generation 2 to vanish', () => (instancesOf(f).some((i) => i.tags['fleet:name'] === 'web-01' && i.tags['fleet:generation'] === '2') ? undefined : true));
        cloud.control.ec2.setConvergence(undefined);

        // The planner sees generations 1 only and picks 2 again: same ClientToken, another image.
        const r = await upgrade(config, 'web-01', ['--image', 'ami-0d12a0000000000a2']);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const now = servedBy(f, 'web-01')!;
        assert.equal(now.imageId, 'ami-0d12a0000000000a2');
        assert.equal(now.tags['fleet:generation'], '3', 'the token of generation 2 is spent: generation 3');
        assert.ok(!LIVE.has(cloud.control.ec2.instance(old.instanceId)!.state));
        assertConverged(f, names());
      } finally {
        cloud.control.delays.terminatedVisibleMs = saved;
      }
    });
  });

  describe('spot interruption and termination while waiting for convergence', () => {
    test('apply: the new instance of web-02 is interrupted before it converges -> rolled back, exit 1, the rerun heals', async () => {
      const f = 'spot';
      const config = await init(f);
      cloud.control.ec2.setConvergence([{ names: ['web-02'], converge: 10 * 60_000 }]);
      const run = apply(config);
      const victim = await waitFor('web-02 running', () => liveOf(f, 'web-02').find((i) => i.state === 'running'));
      cloud.control.interruptSpot(victim.instanceId);
      // The interruption comes two simulated minutes after the warning: jump there.
      cloud.control.clock.advance(120_000);
      const r = await run;
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`FAILED: launch web-02 .*${victim.instanceId} is (shutting-down|terminated) before it converged; rolled back`));
      assert.equal(recordOf(f, 'web-02'), undefined);
      assert.equal(liveOf(f, 'web-02').length, 0);
      assertConverged(f, ['hub-01', 'web-01', 'web-03']);

      cloud.control.ec2.setConvergence(undefined);
      const again = await apply(config);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stdout, /launch web-02 generation 2/);
      assertConverged(f, names());
    });

    test('upgrade: the new instance is terminated by the service before it converges -> rolled back, exit 1', async () => {
      const f = 'spot-up';
      const config = await converged(f);
      const old = servedBy(f, 'web-03')!;
      cloud.control.ec2.setConvergence([{ names: ['web-03'], converge: 10 * 60_000 }]);
      const run = upgrade(config, 'web-03', ['--type', 'm5.large']);
      const fresh = await waitFor('the new web-03', () => liveOf(f, 'web-03').find((i) => i.instanceId !== old.instanceId && i.state === 'running'));
      cloud.control.interruptSpot(fresh.instanceId);
      cloud.control.clock.advance(120_000);
      const r = await run;
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`FAILED: web-03: ${fresh.instanceId} is (shutting-down|terminated) before it converged; rolled back`));
      assert.equal(servedBy(f, 'web-03')!.instanceId, old.instanceId);
      assert.equal(cloud.control.ec2.instance(old.instanceId)!.state, 'running');
      assertConverged(f, names());

      // And with control.ec2.terminate (hardware failure) instead of a spot interruption.
      const run2 = upgrade(config, 'web-03', ['--type', 'm5.large']);
      const fresh2 = await waitFor('the next web-03', () => liveOf(f, 'web-03').find((i) => i.instanceId !== old.instanceId && i.state === 'running'));
      cloud.control.ec2.terminate(fresh2.instanceId);
      const r2 = await run2;
      assert.equal(r2.code, 1, r2.stdout + r2.stderr);
      assert.match(r2.stdout, new RegExp(`FAILED: web-03: ${fresh2.instanceId} is (shutting-down|terminated) before it converged`));
      assert.equal(fresh2.tags['fleet:generation'], '3', 'generations only go up');
      assert.equal(servedBy(f, 'web-03')!.instanceId, old.instanceId);
      assertConverged(f, names());
    });

    test('upgrade: the OLD instance is interrupted while the new one converges -> the swap still happens, exit 0', async () => {
      const f = 'spot-old';
      const config = await converged(f);
      const old = servedBy(f, 'web-01')!;
      cloud.control.ec2.setConvergence([{ names: ['web-01'], converge: 30_000 }]);
      const run = upgrade(config, 'web-01', ['--type', 't3a.medium']);
      await waitFor('the new web-01', () => liveOf(f, 'web-01').find((i) => i.instanceId !== old.instanceId));
      cloud.control.interruptSpot(old.instanceId);
      cloud.control.clock.advance(120_000);
      const r = await run;
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(servedBy(f, 'web-01')!.instanceType, 't3a.medium');
      assert.ok(!LIVE.has(cloud.control.ec2.instance(old.instanceId)!.state));
      assertConverged(f, names());
    });
  });
});
