/**
 * The ZooKeeper coordinator when the service goes away: a crashed server that comes back in
 * time (the session survives), one that stays away (the lock is lost within the session
 * timeout; later locks use a new session), and a silent partition (the old holder's `lost`
 * fires before anyone else can get the lock).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LogEvent } from '../../src/ports.js';
import { CoordinationUnavailableError, LockLostError } from '../../src/coord/port.js';
import { ZooKeeperCoordinator } from '../../src/coord/zookeeper.js';
import { SilentProxy } from './proxy.js';
import { ZkServer } from './zk-server.js';

const lostAt = (signal: AbortSignal) => new Promise<number>((resolve) => signal.addEventListener('abort', () => resolve(Date.now()), { once: true }));

async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - start;
}

const fails = (f: () => void) => {
  try {
    f();
    return false;
  } catch (e) {
    assert.ok(e instanceof LockLostError, String(e));
    return true;
  }
};

describe('ZooKeeper coordinator during outages', () => {
  let zk: ZkServer;
  const coords: ZooKeeperCoordinator[] = [];
  const coord = (fleet: string, sessionTimeoutMs: number, connect = zk.connect, log?: (e: LogEvent) => void) => {
    const c = new ZooKeeperCoordinator({ connect, fleet, sessionTimeoutMs, connectTimeoutMs: 3000, ...(log ? { log } : {}) });
    coords.push(c);
    return c;
  };

  before(async () => {
    zk = await ZkServer.start();
  });

  after(async () => {
    await Promise.all(coords.map((c) => c.close()));
    await zk?.dispose();
  });

  test('a server that crashes and is back within the session timeout: held, not lost', async () => {
    const T = 6000;
    const c = coord('quick', T);
    const h = await c.lock('web-01', { operation: 'upgrade' });
    h.assertHeld();
    await zk.kill();
    // The disconnection is seen at once: no new side effects.
    await until(() => fails(() => h.assertHeld()), 1000, 'assertHeld() fails while disconnected');
    await zk.start();
    // Back before the session timeout: the same session, the same lock.
    await until(() => !fails(() => h.assertHeld()), T * 0.8, 'assertHeld() passes again');
    assert.equal(h.lost.aborted, false);
    const other = coord('quick', T);
    await assert.rejects(other.lock('web-01', { operation: 'kill', deadlineMs: 0 }), /web-01 is being upgraded/);
    await h.release();
    const h2 = await other.lock('web-01', { operation: 'kill', deadlineMs: 2000 });
    assert.ok(h2.fencingToken > h.fencingToken);
    await h2.release();
  });

  test('a server that stays away: lost within the session timeout, bounded errors meanwhile, a new session afterwards', async () => {
    const T = 3000;
    const c = coord('away', T);
    const h = await c.lock('web-01', { operation: 'upgrade' });
    const lost = lostAt(h.lost);
    const t0 = Date.now();
    await zk.kill();
    await until(() => fails(() => h.assertHeld()), 1000, 'assertHeld() fails while disconnected');
    const lostAfter = (await lost) - t0;
    assert.ok(lostAfter <= T, `lost ${lostAfter} ms after the crash`);
    assert.ok(h.lost.reason instanceof LockLostError);
    assert.match((h.lost.reason as Error).message, /^lock web-01 may be lost: no word from ZooKeeper for [0-9.]+ s \(session timeout 3\.0 s\)/);
    assert.throws(() => h.assertHeld(), LockLostError);
    const r0 = Date.now();
    await h.release(); // must not hang on a dead connection
    assert.ok(Date.now() - r0 < 1000);

    const a0 = Date.now();
    await assert.rejects(c.lock('web-02', { operation: 'upgrade', deadlineMs: 1000 }), CoordinationUnavailableError);
    assert.ok(Date.now() - a0 < 4000);

    // It comes back having lost everything (so our old session means nothing to it).
    zk.wipe();
    await zk.start();
    const h2 = await c.lock('web-01', { operation: 'upgrade', deadlineMs: 10_000 });
    h2.assertHeld();
    await h2.release();
  });

  test('a silent partition: the holder loses the lock before anyone else can take it; after healing, a new session', async () => {
    const T = 3000;
    const proxy = await SilentProxy.start(zk.port);
    const events: LogEvent[] = [];
    try {
      const c = coord('partition', T, proxy.connect, (e) => events.push(e));
      const h = await c.lock('db-01', { operation: 'upgrade' });
      const lost = lostAt(h.lost);
      const other = coord('partition', T);
      proxy.partition();
      const t0 = Date.now();
      const taken = other.lock('db-01', { operation: 'heal', deadlineMs: 15_000 });
      // No disconnection is reported: only the missing heartbeat replies tell.
      await until(() => fails(() => h.assertHeld()), T, 'assertHeld() fails once ZooKeeper is silent');
      const h2 = await taken;
      const takenAt = Date.now();
      const lostTime = await lost;
      assert.ok(lostTime < takenAt, `lost at +${lostTime - t0} ms, but the other took it at +${takenAt - t0} ms`);
      assert.ok(takenAt - t0 >= T * (2 / 3) - 300, `taken after ${takenAt - t0} ms`);
      assert.ok(h2.fencingToken > h.fencingToken);
      assert.ok(events.some((e) => e.event === 'coord.zk.silent'), 'the silent connection was dropped');

      proxy.heal();
      await h.release();
      await h2.release();
      const h3 = await c.lock('db-01', { operation: 'upgrade', deadlineMs: 10_000 });
      h3.assertHeld();
      assert.ok(h3.fencingToken > h2.fencingToken);
      await h3.release();
    } finally {
      await proxy.close();
    }
  });
});
