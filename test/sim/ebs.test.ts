/**
 * Conformance: the EBS direct API with the real @aws-sdk/client-ebs (ListSnapshotBlocks,
 * ListChangedBlocks, GetSnapshotBlock) over snapshots taken through EC2: shapes, paging
 * (including pages with no blocks that still carry a NextToken), errors with their Reason,
 * injected 5xx and throttling.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CreateSnapshotCommand, CreateVolumeCommand, DescribeSnapshotsCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import {
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  paginateListSnapshotBlocks,
  type ChangedBlock,
  type ListChangedBlocksCommandInput,
} from '@aws-sdk/client-ebs';
import type { SimDelays } from '../../src/sim/types.js';
import { cloudUnderTest, errorCode, errorStatus, eventually, simControl, type CloudUnderTest } from './harness.js';

let cloud: CloudUnderTest;

before(async () => {
  cloud = await cloudUnderTest();
});
after(async () => {
  await cloud.close();
});

const BLOCK = 524_288;

/** The knobs: in-process control, or the HTTP control endpoint of a local cloud elsewhere. */
interface Knobs {
  delays(d: Partial<SimDelays>): Promise<Partial<SimDelays>>;
  advance(ms: number): Promise<void>;
  throttling(on: boolean, buckets?: Record<string, { burst: number; refillPerSec: number }>): Promise<void>;
  failNext(service: string, action: string, n: number, status?: number): Promise<void>;
  /** Simulate the instance writing blocks; false when the endpoint offers no way to do it. */
  writeBlocks(volumeId: string, blocks: Record<number, string>): Promise<boolean>;
}

function knobs(): Knobs | undefined {
  const control = cloud.control;
  if (control) {
    return {
      async delays(d) {
        const prev: Partial<SimDelays> = {};
        for (const k of Object.keys(d) as (keyof SimDelays)[]) prev[k] = control.delays[k];
        Object.assign(control.delays, d);
        return prev;
      },
      advance: async (ms) => control.clock.advance(ms),
      throttling: async (on, buckets) => control.setThrottling(on, buckets),
      failNext: async (service, action, n, status) => control.failNext(service, action, n, status),
      async writeBlocks(volumeId, blocks) {
        control.ec2.writeVolumeBlocks(volumeId, blocks);
        return true;
      },
    };
  }
  if (cloud.isLocalCloud) {
    const ep = cloud.endpoint;
    return {
      async delays(d) {
        const all = (await simControl(ep, '/delays', {})) as SimDelays;
        const prev: Partial<SimDelays> = {};
        for (const k of Object.keys(d) as (keyof SimDelays)[]) prev[k] = all[k];
        await simControl(ep, '/delays', d);
        return prev;
      },
      advance: async (ms) => void (await simControl(ep, '/clock', { advanceMs: ms })),
      throttling: async (on, buckets) => void (await simControl(ep, '/throttling', { on, ...(buckets ? { buckets } : {}) })),
      failNext: async (service, action, n, status) => void (await simControl(ep, '/fail-next', { service, action, n, ...(status ? { status } : {}) })),
      async writeBlocks(volumeId, blocks) {
        try {
          await simControl(ep, '/volume-blocks', { volumeId, blocks });
          return true;
        } catch (err) {
          if (/: 404 /.test(String(err))) return false;
          throw err;
        }
      },
    };
  }
  return undefined;
}

async function newVolume(sizeGiB: number, az = `${cloud.region}a`, snapshotId?: string): Promise<string> {
  const v = await cloud.clients.ec2.send(new CreateVolumeCommand({ AvailabilityZone: az, Size: sizeGiB, VolumeType: 'gp3', ...(snapshotId ? { SnapshotId: snapshotId } : {}) }));
  await eventually(async () => {
    const d = await cloud.clients.ec2.send(new DescribeVolumesCommand({ VolumeIds: [v.VolumeId!] }));
    return d.Volumes?.[0]?.State === 'available';
  });
  return v.VolumeId!;
}

async function snapshot(volumeId: string, wait = true): Promise<string> {
  const s = await cloud.clients.ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
  if (wait) {
    await eventually(async () => {
      const d = await cloud.clients.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [s.SnapshotId!] }));
      return d.Snapshots?.[0]?.State === 'completed';
    });
  }
  return s.SnapshotId!;
}

/** "Code status Reason" of a rejected EBS call. */
async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    const x = e as { name: string; Reason?: string; $metadata?: { httpStatusCode?: number } };
    return `${x.name} ${x.$metadata?.httpStatusCode} ${x.Reason ?? ''}`.trim();
  }
  throw new Error('expected the call to fail');
}

function range(from: number, to: number, content: (i: number) => string): Record<number, string> {
  const out: Record<number, string> = {};
  for (let i = from; i < to; i++) out[i] = content(i);
  return out;
}

/** Every page of ListChangedBlocks, following NextToken until it is gone. */
async function allChanged(input: ListChangedBlocksCommandInput): Promise<{ blocks: ChangedBlock[]; pages: { count: number; token: boolean }[] }> {
  const blocks: ChangedBlock[] = [];
  const pages: { count: number; token: boolean }[] = [];
  let token: string | undefined;
  do {
    const r = await cloud.clients.ebs.send(new ListChangedBlocksCommand({ ...input, NextToken: token }));
    blocks.push(...(r.ChangedBlocks ?? []));
    token = r.NextToken;
    pages.push({ count: r.ChangedBlocks?.length ?? 0, token: token !== undefined });
    assert.ok(pages.length < 1000, 'paging must end');
  } while (token);
  return { blocks, pages };
}

/** A fixture: a 10 GiB volume with 2,500 written blocks (S1), then changes (S2). */
let fixture: { volumeId: string; s1: string; s2: string } | undefined | false;
const NO_WRITES = 'needs the local cloud control: writes volume blocks (control.ec2.writeVolumeBlocks or POST /_sim/volume-blocks)';

async function withData(t: { skip(msg: string): void }): Promise<{ volumeId: string; s1: string; s2: string } | undefined> {
  const k = knobs();
  if (fixture === undefined && k) {
    const volumeId = await newVolume(10);
    if (await k.writeBlocks(volumeId, range(0, 2500, (i) => `v1-${i}`))) {
      const s1 = await snapshot(volumeId);
      // S2: blocks 10..14 and 3 rewritten, block 19000 new (far away: many empty pages in between).
      await k.writeBlocks(volumeId, { ...range(10, 15, (i) => `v2-${i}`), 3: 'v2-3', 19000: 'v2-far' });
      const s2 = await snapshot(volumeId);
      fixture = { volumeId, s1, s2 };
    } else fixture = false;
  }
  if (!fixture) {
    t.skip(NO_WRITES);
    return undefined;
  }
  return fixture;
}

test('ListSnapshotBlocks: 2,500 written blocks in pages of 100..10000, shapes, startingBlockIndex', async (t) => {
  const f = await withData(t);
  if (!f) return;
  const ebs = cloud.clients.ebs;
  const first = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: f.s1, MaxResults: 100 }));
  assert.equal(first.Blocks?.length, 100);
  assert.equal(first.VolumeSize, 10);
  assert.equal(first.BlockSize, BLOCK);
  assert.ok(first.ExpiryTime instanceof Date && first.ExpiryTime.getTime() > Date.now() - 60_000);
  assert.ok(first.NextToken);
  assert.deepEqual(first.Blocks![0], { BlockIndex: 0, BlockToken: first.Blocks![0]!.BlockToken });
  assert.match(first.Blocks![0]!.BlockToken!, /^[A-Za-z0-9+/=]+$/);

  const indexes: number[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: f.s1, MaxResults: 100, NextToken: token }));
    assert.ok((r.Blocks?.length ?? 0) <= 100);
    indexes.push(...(r.Blocks ?? []).map((b) => b.BlockIndex!));
    token = r.NextToken;
    pages++;
  } while (token);
  assert.equal(pages, 25);
  assert.deepEqual(indexes, Array.from({ length: 2500 }, (_, i) => i));

  const viaPaginator: number[] = [];
  for await (const page of paginateListSnapshotBlocks({ client: ebs, pageSize: 1000 }, { SnapshotId: f.s1 })) viaPaginator.push(...(page.Blocks ?? []).map((b) => b.BlockIndex!));
  assert.deepEqual(viaPaginator, indexes);

  const big = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: f.s1, MaxResults: 10_000 }));
  assert.equal(big.Blocks?.length, 2500);
  assert.equal(big.NextToken, undefined);

  const from = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: f.s1, StartingBlockIndex: 2450, MaxResults: 100 }));
  assert.deepEqual(
    from.Blocks?.map((b) => b.BlockIndex),
    Array.from({ length: 50 }, (_, i) => 2450 + i),
  );
  assert.equal(from.NextToken, undefined);

  // S2 has S1's blocks plus block 19000; unchanged blocks keep their tokens.
  const s2 = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: f.s2, StartingBlockIndex: 2400, MaxResults: 100 }));
  const s1Tail = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: f.s1, StartingBlockIndex: 2400, MaxResults: 100 }));
  assert.deepEqual(s2.Blocks, s1Tail.Blocks);
});

test('ListChangedBlocks: changed and new blocks, pages with no blocks but a NextToken, no first snapshot = all blocks', async (t) => {
  const f = await withData(t);
  if (!f) return;
  const { blocks, pages } = await allChanged({ FirstSnapshotId: f.s1, SecondSnapshotId: f.s2, MaxResults: 100 });
  assert.deepEqual(
    blocks.map((b) => b.BlockIndex),
    [3, 10, 11, 12, 13, 14, 19000],
  );
  for (const b of blocks.slice(0, 6)) {
    assert.ok(b.FirstBlockToken && b.SecondBlockToken && b.FirstBlockToken !== b.SecondBlockToken, `block ${b.BlockIndex} changed`);
  }
  const added = blocks[6]!;
  assert.equal(added.FirstBlockToken, undefined);
  assert.ok(added.SecondBlockToken);
  assert.ok(
    pages.some((p) => p.count === 0 && p.token),
    'a page may hold no blocks and still carry a NextToken: clients must loop until the token is gone',
  );
  assert.equal(pages[pages.length - 1]!.token, false);

  // Stopping at the first empty page would miss block 19000.
  const firstEmpty = pages.findIndex((p) => p.count === 0);
  const beforeEmpty = pages.slice(0, firstEmpty).reduce((n, p) => n + p.count, 0);
  assert.ok(beforeEmpty < blocks.length);

  const r = await cloud.clients.ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: f.s1, SecondSnapshotId: f.s2 }));
  assert.equal(r.VolumeSize, 10);
  assert.equal(r.BlockSize, BLOCK);
  assert.ok(r.ExpiryTime instanceof Date);

  const all = await allChanged({ SecondSnapshotId: f.s1, MaxResults: 1000 });
  assert.equal(all.blocks.length, 2500);
  assert.ok(all.blocks.every((b) => b.FirstBlockToken === undefined && b.SecondBlockToken));

  const fromIndex = await allChanged({ FirstSnapshotId: f.s1, SecondSnapshotId: f.s2, StartingBlockIndex: 11, MaxResults: 10_000 });
  assert.deepEqual(
    fromIndex.blocks.map((b) => b.BlockIndex),
    [11, 12, 13, 14, 19000],
  );
  const same = await allChanged({ FirstSnapshotId: f.s2, SecondSnapshotId: f.s2 });
  assert.deepEqual(same.blocks, []);
});

test('GetSnapshotBlock: 512 KiB of deterministic data with its SHA256 checksum; bad tokens and indexes refused', async (t) => {
  const f = await withData(t);
  if (!f) return;
  const ebs = cloud.clients.ebs;
  const list = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: f.s1, MaxResults: 100 }));
  const b5 = list.Blocks![5]!;
  const r = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: f.s1, BlockIndex: 5, BlockToken: b5.BlockToken! }));
  const data = Buffer.from(await r.BlockData!.transformToByteArray());
  assert.equal(data.length, BLOCK);
  assert.equal(r.DataLength, BLOCK);
  assert.equal(r.ChecksumAlgorithm, 'SHA256');
  assert.equal(r.Checksum, createHash('sha256').update(data).digest('base64'));
  // The same block read through the later snapshot (unchanged) is the same data.
  const again = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: f.s2, BlockIndex: 5, BlockToken: b5.BlockToken! }));
  assert.equal(again.Checksum, r.Checksum);
  // A rewritten block has other data.
  const changed = await allChanged({ FirstSnapshotId: f.s1, SecondSnapshotId: f.s2, MaxResults: 100 });
  const b3 = changed.blocks.find((b) => b.BlockIndex === 3)!;
  const old3 = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: f.s1, BlockIndex: 3, BlockToken: b3.FirstBlockToken! }));
  const new3 = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: f.s2, BlockIndex: 3, BlockToken: b3.SecondBlockToken! }));
  assert.notEqual(old3.Checksum, new3.Checksum);

  const wrong = ebs.send(new GetSnapshotBlockCommand({ SnapshotId: f.s1, BlockIndex: 6, BlockToken: b5.BlockToken! }));
  assert.equal(await errorCode(wrong), 'ValidationException');
  const stale = ebs.send(new GetSnapshotBlockCommand({ SnapshotId: f.s2, BlockIndex: 3, BlockToken: b3.FirstBlockToken! }));
  const err = await stale.catch((e: unknown) => e as { name: string; Reason?: string; $metadata?: { httpStatusCode?: number } });
  assert.equal((err as { name: string }).name, 'ValidationException');
  assert.equal((err as { Reason?: string }).Reason, 'INVALID_BLOCK_TOKEN');
  const past = ebs.send(new GetSnapshotBlockCommand({ SnapshotId: f.s1, BlockIndex: 10 * 2048, BlockToken: b5.BlockToken! }));
  assert.equal(await errorCode(past), 'ValidationException');
  const unwritten = ebs.send(new GetSnapshotBlockCommand({ SnapshotId: f.s1, BlockIndex: 5000, BlockToken: b5.BlockToken! }));
  assert.equal(await errorCode(unwritten), 'ValidationException');
});

test('errors: unknown snapshot -> ResourceNotFoundException 404; bad parameters -> ValidationException 400 with Reason', async () => {
  const ebs = cloud.clients.ebs;
  assert.equal(await reason(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: 'snap-0123456789abcdef0' }))), 'ResourceNotFoundException 404 SNAPSHOT_NOT_FOUND');
  assert.equal(await reason(ebs.send(new ListChangedBlocksCommand({ SecondSnapshotId: 'snap-0123456789abcdef0' }))), 'ResourceNotFoundException 404 SNAPSHOT_NOT_FOUND');
  assert.equal(await errorCode(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: 'vol-123' }))), 'ValidationException');
  assert.equal(await errorStatus(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: 'snap-XYZ' }))), 400);

  const volumeId = await newVolume(1);
  const s = await snapshot(volumeId);
  const otherVolume = await newVolume(1, `${cloud.region}b`);
  const unrelated = await snapshot(otherVolume);
  assert.equal(await reason(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s, MaxResults: 99 }))), 'ValidationException 400 INVALID_PARAMETER_VALUE');
  assert.equal(await reason(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s, MaxResults: 10_001 }))), 'ValidationException 400 INVALID_PARAMETER_VALUE');
  assert.equal(await reason(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s, NextToken: 'bm90IGEgdG9rZW4=' }))), 'ValidationException 400 INVALID_PAGE_TOKEN');
  assert.equal(await reason(ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: unrelated, SecondSnapshotId: s }))), 'ValidationException 400 UNRELATED_SNAPSHOTS');
  assert.equal(await reason(ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: 'snap-0123456789abcdef0', SecondSnapshotId: s }))), 'ResourceNotFoundException 404 SNAPSHOT_NOT_FOUND');
  const empty = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s }));
  assert.deepEqual(empty.Blocks, []);
  assert.equal(empty.VolumeSize, 1);
});

test('errors: a page token belongs to its snapshot and operation', async (t) => {
  const f = await withData(t);
  if (!f) return;
  const ebs = cloud.clients.ebs;
  const page = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: f.s1, MaxResults: 100 }));
  assert.ok(page.NextToken);
  assert.equal(await reason(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: f.s2, NextToken: page.NextToken! }))), 'ValidationException 400 INVALID_PAGE_TOKEN');
  assert.equal(await reason(ebs.send(new ListChangedBlocksCommand({ SecondSnapshotId: f.s1, NextToken: page.NextToken! }))), 'ValidationException 400 INVALID_PAGE_TOKEN');
  const ok = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: f.s1, MaxResults: 100, NextToken: page.NextToken! }));
  assert.equal(ok.Blocks?.[0]?.BlockIndex, 100);
});

test('errors: until a snapshot completes, the EBS direct API does not see it (ResourceNotFoundException)', async (t) => {
  const k = knobs();
  if (!k) return t.skip('needs the local cloud control: slows snapshots and advances the clock');
  const ebs = cloud.clients.ebs;
  const volumeId = await newVolume(1);
  const saved = await k.delays({ snapshotMs: 600_000 });
  try {
    const pending = await snapshot(volumeId, false);
    assert.equal(await reason(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: pending }))), 'ResourceNotFoundException 404 SNAPSHOT_NOT_FOUND');
    assert.equal(await reason(ebs.send(new ListChangedBlocksCommand({ SecondSnapshotId: pending }))), 'ResourceNotFoundException 404 SNAPSHOT_NOT_FOUND');
    await k.advance(600_000);
    const now = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: pending }));
    assert.deepEqual(now.Blocks, []);
  } finally {
    await k.delays(saved);
  }
});

test('lineage: a volume restored from a snapshot in another AZ carries its blocks; its snapshots compare with the source', async (t) => {
  const f = await withData(t);
  if (!f) return;
  const ebs = cloud.clients.ebs;
  const restored = await newVolume(10, `${cloud.region}c`, f.s2);
  await knobs()!.writeBlocks(restored, { 2499: 'restored-change' });
  const s3 = await snapshot(restored);
  const list = async (id: string): Promise<string> => {
    const out: string[] = [];
    for await (const p of paginateListSnapshotBlocks({ client: ebs, pageSize: 10_000 }, { SnapshotId: id })) out.push(...(p.Blocks ?? []).map((b) => `${b.BlockIndex}:${b.BlockToken}`));
    return out.join(',');
  };
  const [a, b] = [await list(f.s2), await list(s3)];
  assert.equal(a.split(',').length, 2501);
  assert.equal(b.split(',').length, 2501);
  const diff = await allChanged({ FirstSnapshotId: f.s2, SecondSnapshotId: s3, MaxResults: 10_000 });
  assert.deepEqual(
    diff.blocks.map((x) => x.BlockIndex),
    [2499],
  );
  if (cloud.control) {
    const snaps = cloud.control.ec2.snapshots();
    assert.equal(snaps.find((x) => x.snapshotId === s3)?.parentSnapshotId, f.s2);
    assert.equal(snaps.find((x) => x.snapshotId === f.s2)?.parentSnapshotId, f.s1);
  }
});

test('fault knobs: injected 5xx -> InternalServerException (SDK retries them); throttling -> RequestThrottledException 400', async (t) => {
  const k = knobs();
  if (!k) return t.skip('needs the local cloud control: failNext and setThrottling');
  const volumeId = await newVolume(1);
  const s = await snapshot(volumeId);
  const ebs = cloud.clients.ebs;

  await k.failNext('ebs', 'ListSnapshotBlocks', 2);
  assert.equal(await reason(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s }))), 'InternalServerException 500');
  assert.equal(await errorStatus(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s }))), 500);
  const ok = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s }));
  assert.deepEqual(ok.Blocks, []);

  const retrying = cloud.makeClients({ maxAttempts: 3 });
  try {
    await k.failNext('ebs', 'ListChangedBlocks', 2, 503);
    const r = await retrying.ebs.send(new ListChangedBlocksCommand({ SecondSnapshotId: s }));
    assert.deepEqual(r.ChangedBlocks, []);
    assert.equal(r.$metadata.attempts, 3);
  } finally {
    retrying.ebs.destroy();
    retrying.ec2.destroy();
    retrying.s3.destroy();
    retrying.route53.destroy();
  }

  await k.throttling(true, { 'ebs:direct': { burst: 2, refillPerSec: 0.001 } });
  try {
    await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s }));
    await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s }));
    assert.equal(await reason(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: s }))), 'RequestThrottledException 400 ACCOUNT_THROTTLED');
  } finally {
    await k.throttling(false);
  }
});
