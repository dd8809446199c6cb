/**
 * One apply never contends with itself: an adopt and a collect of the same name (two
 * survivors of interrupted launches) run one after the other under the name's lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalCloud } from '../../src/sim/index.js';
import { fleet, fleetYaml, writeConfig } from './helpers.js';
import { assertFleetInvariants } from './invariants.js';

test('apply adopts one survivor of a name and collects the other, without tripping over its own lock', async () => {
  const cloud = await startLocalCloud({ delays: { bootMs: 10, convergeMs: 20, dnsSyncMs: 10, shutdownMs: 10 } });
  try {
    const yaml = fleetYaml({ fleet: 'twins', zone: 'twins.example.com', web: 1, api: 0 }).replace('  ttl: 60', '  ttl: 1') + 'reconcile:\n  orphan-grace: 0s\n';
    const config = writeConfig(yaml);
    const env = { FLEET_LOCK_DIR: writeConfig('x').replace(/fleet\.yaml$/, 'locks') };
    const init = await fleet(['init', '--config', config], { endpoint: cloud.endpoint, env });
    assert.equal(init.code, 0, init.stderr);
    const tags = (name: string, generation: string) => ({ 'fleet:fleet': 'twins', 'fleet:name': name, 'fleet:role': name.split('-')[0]!, 'fleet:generation': generation, Name: `${name}.twins.example.com` });
    const launched = new Date(Date.now() - 3_600_000).toISOString();
    const [older, newer] = cloud.control.ec2.seedInstances([
      { instanceType: 't3.medium', az: 'us-east-1a', converged: true, launchTime: launched, tags: tags('web-01', '1') },
      { instanceType: 't3.medium', az: 'us-east-1b', converged: true, launchTime: launched, tags: tags('web-01', '2') },
    ]);
    const plan = await fleet(['--json', 'plan', '--config', config], { endpoint: cloud.endpoint, env });
    const kinds = (JSON.parse(plan.stdout) as { actions: { kind: string; name?: string; instanceId?: string }[] }).actions.filter((a) => a.name === 'web-01').map((a) => `${a.kind}:${a.instanceId}`);
    assert.deepEqual(kinds.sort(), [`adopt:${newer}`, `collect:${older}`].sort(), 'the newer generation is adopted, the older collected');

    const r = await fleet(['apply', '--yes', '--config', config, '--poll-ms', '50'], { endpoint: cloud.endpoint, env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /is being (repaired|collected)|held for/);
    const snap = assertFleetInvariants(cloud.control, { fleet: 'twins', zone: 'twins.example.com', names: ['hub-01', 'web-01'] });
    assert.equal(snap.served.get('web-01')!.instanceId, newer);
    assert.ok(['shutting-down', 'terminated'].includes(cloud.control.ec2.instance(older!)!.state));
  } finally {
    await cloud.close();
  }
});
