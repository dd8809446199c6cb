/**
 * Scale: 100,000 seeded instances, listed with the real SDK in pages of 1,000 (the way fleet's
 * EC2 adapter reads a fleet), and looked up by name through the tag index. Asserts totals and
 * generous time bounds; page timings are logged as diagnostics (first vs last page shows that
 * resuming a page costs O(page), not O(position)).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { cloudUnderTest } from './harness.js';

const N = 100_000;

test('100,000 seeded instances: full paginated DescribeInstances is complete and linear; name lookups use the index', async (t) => {
  const cloud = await cloudUnderTest();
  if (!cloud.control) {
    await cloud.close();
    return t.skip('needs the in-process control: seedInstances of 100,000 instances');
  }
  try {
    const roles = ['web', 'api', 'db', 'cache'];
    const t0 = performance.now();
    const ids = cloud.control.ec2.seedInstances(
      Array.from({ length: N }, (_, i) => {
        const role = roles[i % roles.length]!;
        return {
          instanceType: i % 3 === 0 ? 'm5.large' : 't3.medium',
          market: i % 2 === 0 ? ('spot' as const) : ('on-demand' as const),
          converged: true,
          tags: { 'fleet:fleet': 'scale', 'fleet:name': `${role}-${String(i + 1).padStart(6, '0')}`, 'fleet:role': role, 'fleet:generation': '1' },
        };
      }),
    );
    const seedMs = performance.now() - t0;
    // Speed figures are diagnostics here (the machine is shared); `npm run bench` reports speed.
    t.diagnostic(`seeded ${ids.length} instances in ${seedMs.toFixed(0)} ms`);
    assert.equal(ids.length, N);
    assert.equal(new Set(ids).size, N);

    const seen = new Set<string>();
    const ips = new Set<string>();
    const pageMs: number[] = [];
    let token: string | undefined;
    const t1 = performance.now();
    do {
      const p0 = performance.now();
      const r = await cloud.clients.ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'tag:fleet:fleet', Values: ['scale'] }], MaxResults: 1000, ...(token ? { NextToken: token } : {}) }),
      );
      pageMs.push(performance.now() - p0);
      let inPage = 0;
      for (const res of r.Reservations ?? []) {
        for (const i of res.Instances ?? []) {
          seen.add(i.InstanceId!);
          ips.add(i.PrivateIpAddress!);
          inPage++;
        }
      }
      assert.ok(inPage <= 1000);
      token = r.NextToken;
    } while (token);
    const listMs = performance.now() - t1;
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    t.diagnostic(
      `listed ${seen.size} instances in ${pageMs.length} pages, ${listMs.toFixed(0)} ms; first 5 pages avg ${avg(pageMs.slice(0, 5)).toFixed(0)} ms, last 5 avg ${avg(pageMs.slice(-5)).toFixed(0)} ms`,
    );
    assert.equal(seen.size, N, 'every instance exactly once');
    assert.equal(ips.size, N, 'every instance has its own address');
    assert.equal(pageMs.length, N / 1000);

    // Lookups by name go through the tag index, not a scan of 100,000 instances.
    const t2 = performance.now();
    for (let k = 0; k < 200; k++) {
      const n = 1 + ((k * 7919) % N);
      const name = `${roles[(n - 1) % roles.length]}-${String(n).padStart(6, '0')}`;
      const r = await cloud.clients.ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'tag:fleet:fleet', Values: ['scale'] }, { Name: 'tag:fleet:name', Values: [name] }], MaxResults: 5 }),
      );
      const found = (r.Reservations ?? []).flatMap((x) => x.Instances ?? []);
      assert.equal(found.length, 1, name);
      assert.equal(found[0]!.InstanceId, ids[n - 1]);
    }
    const lookupMs = performance.now() - t2;
    t.diagnostic(`200 lookups by fleet:name in ${lookupMs.toFixed(0)} ms`);
    assert.equal(cloud.control.ec2.stats().total, N);
  } finally {
    await cloud.close();
  }
});
