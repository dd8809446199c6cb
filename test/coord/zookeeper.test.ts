/**
 * The lock and leader recipes against a real ZooKeeper (Debian's package, started on a free
 * loopback port by scripts/zookeeper.sh): contention across processes, FIFO, a holder killed
 * with SIGKILL, leader takeover with fencing, holders(), and an unreachable server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CoordinationUnavailableError, LockTimeoutError, type LockHandle } from '../../src/coord/port.js';
import { ZooKeeperCoordinator } from '../../src/coord/zookeeper.js';
import { exitOf, intervals, readEvents, startContender, waitForEvent, type Proc } from './procs.js';
import { ZkServer } from './zk-server.js';

const T = 3000; // session timeout of every contender (the server allows 400 ms .. 60 s)

describe('ZooKeeper coordinator', () => {
  let zk: ZkServer;
  let work: string;
  const procs: Proc[] = [];
  const coords: ZooKeeperCoordinator[] = [];
  const coord = (fleet: string) => {
    const c = new ZooKeeperCoordinator({ connect: zk.connect, fleet, sessionTimeoutMs: T, host: 'ops-7' });
    coords.push(c);
    return c;
  };
  const contender = (cfg: Omit<Parameters<typeof startContender>[0], 'mode' | 'connect' | 'sessionTimeoutMs'>) => {
    const p = startContender({ mode: 'zk', connect: zk.connect, sessionTimeoutMs: T, ...cfg });
    procs.push(p);
    return p;
  };

  before(async () => {
    zk = await ZkServer.start();
    work = mkdtempSync(join(tmpdir(), 'fleet-coord-zk-'));
  });

  after(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(coords.map((c) => c.close()));
    await zk?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('5 processes contend for one name: one holder at a time, tokens grow in order of entry', async () => {
    const log = join(work, 'contend.jsonl');
    const ps = Array.from({ length: 5 }, (_, i) => contender({ role: 'lock', fleet: 'contend', name: 'web-03', rounds: 4, holdMs: 15, log, id: `p${i}` }));
    for (const p of ps) assert.equal(await exitOf(p, 30_000), 0, p.stderr());
    const iv = intervals(readEvents(log));
    assert.equal(iv.length, 20);
    for (let i = 1; i < iv.length; i++) {
      assert.ok(iv[i]!.enter >= iv[i - 1]!.exit, `${iv[i]!.id} entered at ${iv[i]!.enter} before ${iv[i - 1]!.id} left at ${iv[i - 1]!.exit}`);
      assert.ok(iv[i]!.token > iv[i - 1]!.token, `token ${iv[i]!.token} after ${iv[i - 1]!.token}`);
      assert.match(iv[i]!.token, /^[0-9]{10}$/);
    }
  });

  test('waiters get the lock in the order they queued (FIFO)', async () => {
    const log = join(work, 'fifo.jsonl');
    const c = coord('fifo');
    const first = await c.lock('db-01', { operation: 'upgrade' });
    const ps: Proc[] = [];
    for (let i = 0; i < 4; i++) {
      const id = `w${i}`;
      ps.push(contender({ role: 'lock', fleet: 'fifo', name: 'db-01', rounds: 1, holdMs: 10, log, id }));
      // The next one starts only once this one is in the queue: the queue order is known.
      const q = await waitForEvent(log, (e) => e.id === id && e.ev === 'queued', 15_000);
      assert.equal(q.ahead, i + 1);
    }
    await first.release();
    for (const p of ps) assert.equal(await exitOf(p, 15_000), 0, p.stderr());
    const iv = intervals(readEvents(log));
    assert.deepEqual(
      iv.map((x) => x.id),
      ['w0', 'w1', 'w2', 'w3'],
    );
    assert.ok(iv.every((x) => x.token > first.fencingToken));
  });

  test('a holder killed with SIGKILL releases after the session timeout', async () => {
    const log = join(work, 'kill.jsonl');
    const holder = contender({ role: 'hold', fleet: 'kill', name: 'web-01', log, id: 'holder' });
    const heldToken = (await holder.line('HELD ', 15_000)).slice(5);
    const c = coord('kill');
    let queuedBehind: string | undefined;
    let queued!: () => void;
    const isQueued = new Promise<void>((r) => (queued = r));
    const taking = c.lock('web-01', {
      operation: 'heal',
      deadlineMs: 20_000,
      onWait: ({ holder: h }) => {
        queuedBehind = h?.fencingToken;
        queued();
      },
    });
    await isQueued;
    assert.equal(queuedBehind, heldToken);
    const t0 = Date.now();
    holder.child.kill('SIGKILL');
    const h = await taking;
    const waited = Date.now() - t0;
    try {
      // The server expires the session between (last word from the holder + T) and a tick later;
      // its last word came at most T/3 before the kill (heartbeat period).
      assert.ok(waited >= T * (2 / 3) - 300, `took over after only ${waited} ms`);
      assert.ok(waited <= T + 2000, `took over after ${waited} ms`);
      assert.ok(h.fencingToken > heldToken);
      h.assertHeld();
    } finally {
      await h.release();
    }
  });

  test('leader election: the leader paused past its session is fenced off, then killed leaders are replaced within the session timeout', async () => {
    const log = join(work, 'leader.jsonl');
    const ps = ['a', 'b', 'c'].map((id) => contender({ role: 'leader', fleet: 'elect', actMs: 25, log, id }));
    const procOf = (id: string) => ps[['a', 'b', 'c'].indexOf(id)]!;

    const first = await waitForEvent(log, (e) => e.ev === 'elected', 15_000);
    await waitForEvent(log, (e) => e.ev === 'act' && e.token === first.token && e.t > first.t + 200, 5_000);

    // Pause the leader past its session timeout (a long GC pause, a stopped VM): another is elected.
    const paused = procOf(first.id);
    paused.child.kill('SIGSTOP');
    const t0 = Date.now();
    const second = await waitForEvent(log, (e) => e.ev === 'elected' && e.token !== first.token, T + 4000);
    const takeover1 = Date.now() - t0;
    assert.ok(takeover1 <= T + 2500, `second leader after ${takeover1} ms`);
    await waitForEvent(log, (e) => e.ev === 'act' && e.token === second.token && e.t > second.t + 200, 5_000);
    // Resumed, the old leader finds that it can no longer prove it leads, and stops.
    paused.child.kill('SIGCONT');
    assert.equal(await exitOf(paused, 5_000), 3, paused.stderr());

    // Kill the second leader outright: the third takes over within the session timeout.
    const t1 = Date.now();
    procOf(second.id).child.kill('SIGKILL');
    const third = await waitForEvent(log, (e) => e.ev === 'elected' && e.token !== first.token && e.token !== second.token, T + 4000);
    const takeover2 = Date.now() - t1;
    assert.ok(takeover2 <= T + 2500, `third leader after ${takeover2} ms`);
    await waitForEvent(log, (e) => e.ev === 'act' && e.token === third.token, 5_000);
    procOf(third.id).child.kill('SIGKILL');

    const events = readEvents(log);
    const elected = events.filter((e) => e.ev === 'elected');
    assert.deepEqual(
      elected.map((e) => e.id),
      [first.id, second.id, third.id],
    );
    assert.ok(first.token! < second.token! && second.token! < third.token!, 'fencing tokens strictly increase');
    assert.ok(events.some((e) => e.ev === 'lost' && e.id === first.id), 'the paused leader noticed');

    // The resource fences by token: it accepts an action only if its token is >= every token
    // seen. At most the one action that was in flight when the pause hit may be refused; the
    // paused leader must not start another.
    let max = '';
    let fenced = 0;
    const accepted: typeof events = [];
    for (const a of events.filter((e) => e.ev === 'act')) {
      if (a.token! < max) fenced++;
      else {
        max = a.token!;
        accepted.push(a);
      }
    }
    assert.ok(fenced <= 1, `${fenced} actions of a deposed leader`);
    // Accepted actions of one term never interleave with another term's.
    const spans = new Map<string, [number, number]>();
    for (const a of accepted) {
      const s = spans.get(a.token!);
      spans.set(a.token!, s ? [s[0], a.t] : [a.t, a.t]);
    }
    const ordered = [...spans.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
    assert.equal(ordered.length, 3);
    for (let i = 1; i < ordered.length; i++) assert.ok(ordered[i]![1][0] > ordered[i - 1]![1][1], 'leaders acted at the same time');
  });

  test('holders() lists who holds what and how many wait; a held name times out with a clear message', async () => {
    const a = coord('list');
    const b = new ZooKeeperCoordinator({ connect: zk.connect, fleet: 'list', sessionTimeoutMs: T, host: 'ops-8' });
    coords.push(b);
    const web = await a.lock('web-03', { operation: 'upgrade' });
    const db = await a.lock('db-01', { operation: 'kill' });
    const waiting = b.lock('web-03', { operation: 'heal' });
    // Wait for the event, not for time: b's lock node is in line once holders() counts it (a
    // fixed pause lost that race on a busy machine). The listing is then checked in full.
    let list = await b.holders();
    for (let n = 0; n < 2000 && list.find((l) => l.name === 'web-03')?.waiting !== 1; n++) {
      await new Promise((r) => setTimeout(r, 10));
      list = await b.holders();
    }
    assert.deepEqual(
      list.map((l) => [l.name, l.holder?.host, l.holder?.operation, l.holder?.fencingToken, l.waiting]),
      [
        ['db-01', 'ops-7', 'kill', db.fencingToken, 0],
        ['web-03', 'ops-7', 'upgrade', web.fencingToken, 1],
      ],
    );
    assert.equal(list[1]!.holder!.pid, process.pid);

    await assert.rejects(b.lock('web-03', { operation: 'kill', deadlineMs: 0 }), (e: unknown) => {
      assert.ok(e instanceof LockTimeoutError);
      assert.match(e.message, new RegExp(`^web-03 is being upgraded by ops-7 \\(pid ${process.pid}\\) since \\d\\d:\\d\\d:\\d\\d$`));
      assert.equal(e.holder?.owner, web.holder.owner);
      assert.equal(e.exitCode, 1);
      return true;
    });
    // Bounded by the 300 ms deadline (on the coordinator's clock), reported as waited; no wall-time assertion.
    await assert.rejects(b.lock('web-03', { operation: 'kill', deadlineMs: 300 }), (e: unknown) => e instanceof LockTimeoutError && e.waitedMs >= 300);

    await web.release();
    const next: LockHandle = await waiting;
    assert.ok(next.fencingToken > web.fencingToken);
    const after1 = await a.holders();
    assert.equal(after1.find((l) => l.name === 'web-03')?.holder?.host, 'ops-8');
    // `since` of a holder that waited is when it got the lock, not when it queued.
    assert.ok(Date.parse(after1.find((l) => l.name === 'web-03')!.holder!.since) >= Date.parse(web.holder.since));
    await next.release();
    await db.release();
    assert.deepEqual(
      (await a.holders()).map((l) => [l.name, l.holder, l.waiting]),
      [
        ['db-01', undefined, 0],
        ['web-03', undefined, 0],
      ],
    );
    const leader = a.leader();
    assert.equal(await leader.current(), undefined);
    const term = await leader.campaign();
    assert.equal((await b.leader().current())?.owner, term.holder.owner);
    const abort = new AbortController();
    const contender = b.leader().campaign(abort.signal);
    setTimeout(() => abort.abort(new Error('stop campaigning')), 100);
    await assert.rejects(contender, /stop campaigning/);
    await term.resign();
    assert.throws(() => term.assertStillLeader(), /released/);
  });

  test('an unreachable connect string fails fast with a clear error, and nothing hangs', async () => {
    const c = new ZooKeeperCoordinator({ connect: '127.0.0.1:1', fleet: 'x', sessionTimeoutMs: T, connectTimeoutMs: 2000 });
    await assert.rejects(c.lock('web-01', { operation: 'upgrade' }), (e: unknown) => {
      assert.ok(e instanceof CoordinationUnavailableError, String(e));
      assert.match(e.message, /^cannot coordinate through ZooKeeper at 127\.0\.0\.1:1: no ZooKeeper session within [0-9.]+ s \(127\.0\.0\.1:1: connection refused\)$/);
      return true;
    });
    // Bounded by the 2 s connect timeout (the message says within how long); the test's timeout bounds a hang.
    await assert.rejects(c.holders(), CoordinationUnavailableError);
    await c.close();
  });
});
