/**
 * The local coordinator: in-process FIFO, lock files across processes, stale locks of dead
 * processes, fencing tokens, holders(), leader election, and the port's messages.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { LocalCoordinator } from '../../src/coord/local.js';
import { describeHolder, LockLostError, LockTimeoutError, type HolderInfo, type LockHandle } from '../../src/coord/port.js';
import { manualClock } from '../../src/clock.js';
import { exitOf, intervals, readEvents, startContender } from './procs.js';

const dirs: string[] = [];
const coords: LocalCoordinator[] = [];
function fresh(): string {
  const d = mkdtempSync(join(tmpdir(), 'fleet-coord-local-'));
  dirs.push(d);
  return d;
}
function local(dir: string, extra: Partial<ConstructorParameters<typeof LocalCoordinator>[0]> = {}): LocalCoordinator {
  const c = new LocalCoordinator({ dir, host: 'ops-7', ...extra });
  coords.push(c);
  return c;
}
/** A pid that no process has now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}
const holderText = (h: Partial<HolderInfo>) =>
  JSON.stringify({ host: 'ops-7', pid: 1, operation: 'upgrade', since: new Date().toISOString(), owner: 'f00d', ...h });

after(async () => {
  await Promise.all(coords.map((c) => c.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('local coordinator', () => {
  test('one holder per name across coordinators; tokens count up; a held name says who holds it', async () => {
    const dir = fresh();
    const a = local(dir);
    const b = local(dir, { host: 'ops-8' });
    const h = await a.lock('web-03', { operation: 'upgrade' });
    assert.equal(h.fencingToken, '0000000001');
    assert.equal(h.holder.host, 'ops-7');
    assert.equal(h.holder.pid, process.pid);
    h.assertHeld();
    await assert.rejects(b.lock('web-03', { operation: 'kill', deadlineMs: 0 }), (e: unknown) => {
      assert.ok(e instanceof LockTimeoutError);
      assert.match(e.message, new RegExp(`^web-03 is being upgraded by ops-7 \\(pid ${process.pid}\\) since \\d\\d:\\d\\d:\\d\\d$`));
      assert.equal(e.holder?.fencingToken, '0000000001');
      assert.equal(e.exitCode, 1);
      return true;
    });
    await assert.rejects(b.lock('web-03', { operation: 'kill', deadlineMs: 150 }), (e: unknown) => e instanceof LockTimeoutError && e.waitedMs >= 150);
    const other = await b.lock('web-04', { operation: 'kill', deadlineMs: 0 });
    assert.equal(other.fencingToken, '0000000001');
    await other.release();
    let queued!: () => void;
    const inLine = new Promise<void>((r) => (queued = r));
    const waiting = b.lock('web-03', { operation: 'kill', deadlineMs: 5000, onWait: () => queued() });
    await inLine; // it waits (an event, not a sleep)
    await h.release();
    await h.release(); // idempotent
    assert.throws(() => h.assertHeld(), LockLostError);
    const h2 = await waiting;
    assert.equal(h2.fencingToken, '0000000002');
    assert.equal(h2.holder.host, 'ops-8');
    await h2.release();
  });

  test('a lock wait (--wait) runs on the injected clock: its deadline passes when the clock says so, not the wall', async () => {
    const dir = fresh();
    const clock = manualClock(Date.UTC(2026, 11, 7, 3, 0, 0));
    const a = local(dir);
    const b = local(dir, { host: 'ops-8', clock });
    const h = await a.lock('web-05', { operation: 'upgrade' });
    let settled = false;
    let waitedFor: unknown;
    const waiting = b.lock('web-05', { operation: 'kill', deadlineMs: 30_000, onWait: ({ holder }) => (waitedFor = holder?.host) }).then(
      (x) => ((settled = true), x),
      (e: unknown) => {
        settled = true;
        throw e;
      },
    );
    // The deadline's sleep and a poll's sleep, both on the manual clock.
    await clock.sleeping(2);
    assert.equal(waitedFor, 'ops-7', 'it saw the holder and waits');
    // Just short of the deadline: the poll wakes, finds the lock still held, and sleeps again.
    const polls = clock.sleepers;
    clock.advance(29_999);
    await clock.sleeping(polls);
    assert.equal(settled, false, 'still waiting 1 ms before the deadline');
    clock.advance(1);
    await assert.rejects(waiting, (e: unknown) => {
      assert.ok(e instanceof LockTimeoutError, String(e));
      assert.equal(e.waitedMs, 30_000, 'waited exactly the deadline, in clock time');
      assert.equal(e.holder?.host, 'ops-7');
      return true;
    });
    await h.release();
  });

  test('in one process, waiters get the lock in call order; an aborted waiter leaves the line', async () => {
    const c = local(fresh());
    const first = await c.lock('db-01', { operation: 'upgrade' });
    const order: number[] = [];
    const aheads = new Map<number, number>();
    const abort = new AbortController();
    const waits = [0, 1, 2, 3, 4].map((i) =>
      c
        .lock('db-01', { operation: 'heal', ...(i === 2 ? { signal: abort.signal } : {}), onWait: ({ ahead, holder }) => {
          aheads.set(i, ahead);
          assert.equal(holder?.owner, first.holder.owner);
        } })
        .then(async (h) => {
          order.push(i);
          await new Promise((r) => setTimeout(r, 5));
          await h.release();
        }),
    );
    abort.abort(new Error('changed my mind'));
    await assert.rejects(waits[2]!, /changed my mind/);
    await first.release();
    await Promise.all(waits.filter((_, i) => i !== 2));
    assert.deepEqual(order, [0, 1, 3, 4]);
    assert.deepEqual([0, 1, 3, 4].map((i) => aheads.get(i)), [1, 2, 4, 5]);
  });

  test('5 processes contend through lock files: one holder at a time, tokens grow in order of entry', async () => {
    const dir = fresh();
    const log = join(dir, 'contend.jsonl');
    const ps = Array.from({ length: 5 }, (_, i) => startContender({ mode: 'local', role: 'lock', fleet: 'f', dir, name: 'web-03', rounds: 4, holdMs: 10, log, id: `p${i}` }));
    for (const p of ps) assert.equal(await exitOf(p, 30_000), 0, p.stderr());
    const iv = intervals(readEvents(log));
    assert.equal(iv.length, 20);
    for (let i = 1; i < iv.length; i++) {
      assert.ok(iv[i]!.enter >= iv[i - 1]!.exit, `${iv[i]!.id} entered before ${iv[i - 1]!.id} left`);
      assert.ok(iv[i]!.token > iv[i - 1]!.token);
    }
    assert.equal(iv.at(-1)!.token, '0000000020');
  });

  test('the stale lock of a dead process on this host is broken; one of another host is not', async () => {
    const dir = fresh();
    const c = local(dir);
    await c.lock('warmup', { operation: 'x' }).then((h) => h.release()); // creates locks/
    writeFileSync(join(dir, 'locks', 'web-01.lock'), holderText({ pid: deadPid() }));
    writeFileSync(join(dir, 'locks', 'web-01.seq'), '41\n');
    // A breaker that died while breaking left its mutex behind too.
    writeFileSync(join(dir, 'locks', 'web-01.break'), holderText({ pid: deadPid(), operation: 'break' }));
    const h = await c.lock('web-01', { operation: 'heal', deadlineMs: 0 });
    assert.equal(h.fencingToken, '0000000042');
    await h.release();

    writeFileSync(join(dir, 'locks', 'web-02.lock'), holderText({ host: 'elsewhere', pid: deadPid() }));
    await assert.rejects(c.lock('web-02', { operation: 'heal', deadlineMs: 0 }), /web-02 is being upgraded by elsewhere/);
  });

  test('a lock file removed or taken over: assertHeld() throws and lost fires', async () => {
    const dir = fresh();
    const c = local(dir, { verifyMs: 20 });
    const h: LockHandle = await c.lock('web-05', { operation: 'upgrade' });
    const lost = new Promise<unknown>((r) => h.lost.addEventListener('abort', () => r(h.lost.reason), { once: true }));
    writeFileSync(join(dir, 'locks', 'web-05.lock'), holderText({ owner: 'someone-else' }));
    assert.throws(() => h.assertHeld(), /lock web-05 may be lost: its lock file .* was removed or taken over/);
    assert.ok((await lost) instanceof LockLostError);
    await h.release(); // leaves the other file alone
    assert.match(readFileSync(join(dir, 'locks', 'web-05.lock'), 'utf8'), /someone-else/);
  });

  test('holders() lists holders and waiters of every name', async () => {
    const dir = fresh();
    const a = local(dir);
    const b = local(dir, { host: 'ops-8' });
    assert.deepEqual(await a.holders(), []);
    const web = await a.lock('web-03', { operation: 'upgrade' });
    const db = await a.lock('db-01', { operation: 'kill' });
    let waits = 0;
    let bothWait!: () => void;
    const both = new Promise<void>((r) => (bothWait = r));
    const onWait = () => void (++waits === 2 && bothWait());
    const w1 = b.lock('web-03', { operation: 'heal', onWait });
    const w2 = b.lock('web-03', { operation: 'heal', onWait });
    await both; // both wait, their wait files written (an event, not a sleep)
    const list = await a.holders();
    assert.deepEqual(
      list.map((l) => [l.name, l.holder?.host, l.holder?.operation, l.holder?.fencingToken, l.waiting]),
      [
        ['db-01', 'ops-7', 'kill', '0000000001', 0],
        ['web-03', 'ops-7', 'upgrade', '0000000001', 2],
      ],
    );
    await web.release();
    await (await w1).release();
    await (await w2).release();
    await db.release();
    assert.deepEqual(
      (await a.holders()).map((l) => [l.name, l.holder, l.waiting]),
      [
        ['db-01', undefined, 0],
        ['web-03', undefined, 0],
      ],
    );
  });

  test('leader election through leader.lock: one leader, the next takes over on resign with a larger token', async () => {
    const dir = fresh();
    const a = local(dir);
    const b = local(dir, { host: 'ops-8' });
    assert.equal(await a.leader().current(), undefined);
    const t1 = await a.leader().campaign();
    t1.assertStillLeader();
    assert.equal((await b.leader().current())?.owner, t1.holder.owner);
    const abort = new AbortController();
    const gaveUp = b.leader().campaign(abort.signal);
    setTimeout(() => abort.abort(new Error('enough')), 50);
    await assert.rejects(gaveUp, /enough/);
    const next = b.leader().campaign();
    await new Promise((r) => setTimeout(r, 50));
    await t1.resign();
    assert.throws(() => t1.assertStillLeader(), LockLostError);
    const t2 = await next;
    assert.ok(t2.fencingToken > t1.fencingToken);
    assert.equal(t2.holder.host, 'ops-8');
    assert.deepEqual(await b.holders(), [], 'the election is not a lock');
    await t2.resign();
  });

  test('close() ends waits and marks held locks lost', async () => {
    const dir = fresh();
    const a = local(dir);
    const b = local(dir);
    const h = await a.lock('web-01', { operation: 'upgrade' });
    const waiting = assert.rejects(a.lock('web-01', { operation: 'heal' }), /closed/);
    await a.close();
    await waiting;
    assert.ok(h.lost.aborted);
    assert.throws(() => h.assertHeld(), /the coordinator was closed/);
    await assert.rejects(a.lock('web-02', { operation: 'x' }), /closed/);
    const h2 = await b.lock('web-01', { operation: 'x', deadlineMs: 0 });
    await h2.release();
  });
});

describe('coordination port', () => {
  test('describeHolder', () => {
    const now = new Date(2026, 10, 25, 3, 20, 0);
    const since = new Date(2026, 10, 25, 3, 12, 7).toISOString();
    const h: HolderInfo = { host: 'ops-7', pid: 4412, operation: 'upgrade', since, owner: 'x' };
    assert.equal(describeHolder('web-03', h, now), 'web-03 is being upgraded by ops-7 (pid 4412) since 03:12:07');
    assert.equal(describeHolder('web-03', { ...h, operation: 'apply' }, now), 'web-03 is held for apply by ops-7 (pid 4412) since 03:12:07');
    assert.equal(describeHolder('web-03', h, new Date(2026, 10, 27)), 'web-03 is being upgraded by ops-7 (pid 4412) since 2026-11-25 03:12:07');
    assert.equal(describeHolder('web-03', undefined, now), 'web-03 is locked by someone whose details could not be read');
  });

  test('lock names must be file- and node-safe', async () => {
    const c = local(fresh());
    for (const bad of ['', '../x', 'a/b', 'web.03', '-x', 'x'.repeat(101), 'leader lock']) {
      await assert.rejects(c.lock(bad, { operation: 'x' }), InputError, bad);
    }
  });
});
