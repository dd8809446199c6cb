/**
 * The stop (OpsDeps.signal) inside ops, without the CLI: the guard before each side effect
 * refuses after it (its `finishing` form, for steps that complete a change already made, does
 * not); a rate-limiter wait and a wait for convergence end at once on it, on a manual clock
 * (nothing here sleeps or measures wall time). The watcher polls the in-process local cloud
 * through the real SDK.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { manualClock } from '../../src/clock.js';
import { StopError } from '../../src/errors.js';
import { guardOf, throwIfStopped } from '../../src/ops/locked.js';
import { RateLimiter } from '../../src/ops/limiter.js';
import { InstanceWatcher } from '../../src/ops/watcher.js';
import type { OpsDeps } from '../../src/ops/context.js';
import { createEc2 } from '../../src/aws/ec2.js';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';

const stopped = (sig = 'SIGINT'): AbortController => {
  const c = new AbortController();
  c.abort(new StopError(sig));
  return c;
};

test('the guard refuses after a stop; its finishing form (completing a made change) does not', () => {
  const stop = new AbortController();
  let leaderChecks = 0;
  const deps = { signal: stop.signal, guard: () => void leaderChecks++ } as unknown as OpsDeps;
  const guard = guardOf(deps, undefined);
  guard();
  assert.equal(leaderChecks, 1, 'before the stop: the leader check runs, nothing thrown');
  stop.abort(new StopError('SIGTERM'));
  assert.throws(() => guard(), (e: unknown) => e instanceof StopError && e.stop === 'SIGTERM' && e.message === 'stopped by SIGTERM');
  guard.finishing();
  assert.equal(leaderChecks, 2, 'finishing still checks the lock and the lead');
  assert.throws(() => throwIfStopped(stopped().signal), StopError);
  assert.doesNotThrow(() => throwIfStopped(undefined));
});

test('a rate-limiter wait ends at the stop, taking nothing; waits on the clock otherwise', async () => {
  const clock = manualClock();
  const limiter = new RateLimiter(clock, { b: { burst: 1, perSec: 1 } }, 1);
  await limiter.take('b');
  const stop = new AbortController();
  const waiting = limiter.take('b', 1, stop.signal);
  await clock.sleeping(1);
  stop.abort(new StopError('SIGINT'));
  await assert.rejects(waiting, StopError);
  assert.equal(clock.sleepers, 0, 'its sleep is gone');
  await assert.rejects(limiter.take('b', 1, stopped().signal), StopError, 'after the stop: refused at once');
  // Without a stop, the next take waits for the refill on the clock, then gets its token.
  let got = false;
  const next = limiter.take('b').then(() => (got = true));
  await clock.sleeping(1);
  assert.equal(got, false);
  clock.advance(1000);
  await next;
  assert.equal(got, true);
});

describe('a wait for convergence ends at the stop', () => {
  let cloud: LocalCloud;
  let ec2: EC2Client;
  before(async () => {
    cloud = await startLocalCloud({});
    ec2 = new EC2Client({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' } });
  });
  after(async () => {
    ec2.destroy();
    await cloud.close();
  });

  test('watcher.converged rejects with the stop reason at once, not at the next poll', async () => {
    cloud.control.ec2.setConvergence([{ names: ['web-01'], converge: 'never' }]);
    const r = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0123456789abcdef0',
        InstanceType: 't3.small',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: 'subnet-0aa00000000000001',
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'fleet:name', Value: 'web-01' }] }],
      }),
    );
    const id = r.Instances![0]!.InstanceId!;
    const clock = manualClock();
    const limiter = new RateLimiter(clock);
    const watcher = new InstanceWatcher(createEc2(ec2).instances, clock, limiter, () => {}, { pollMs: 5000, visibilityGraceMs: 300_000 });
    const stop = new AbortController();
    const waiting = watcher.converged(id, 600_000, stop.signal);
    // The first poll ran and the loop sleeps until the next one (on the manual clock).
    await clock.sleeping(1);
    stop.abort(new StopError('SIGINT'));
    await assert.rejects(waiting, (e: unknown) => e instanceof StopError && e.stop === 'SIGINT');
    clock.advance(5000); // let the loop's next poll find nobody waiting
    await assert.rejects(watcher.converged(id, 600_000, stopped().signal), StopError, 'a wait asked after the stop ends at once');
  });
});
