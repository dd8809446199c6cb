/**
 * Conformance: the EBS direct write API with the real @aws-sdk/client-ebs. StartSnapshot ->
 * PutSnapshotBlock (SHA256 checksum, x-amz-Data-Length) -> CompleteSnapshot (ChangedBlocksCount,
 * LINEAR aggregate checksum) -> ListSnapshotBlocks -> GetSnapshotBlock round-trips the data;
 * a child snapshot inherits its parent's blocks; errors carry AWS's codes and Reasons.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  CompleteSnapshotCommand,
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import { cloudUnderTest, simControl, type CloudUnderTest } from './harness.js';

const BLOCK = 524_288;
let cloud: CloudUnderTest;

before(async () => {
  cloud = await cloudUnderTest();
});
after(async () => {
  await cloud.close();
});

/** A block of deterministic bytes. */
function block(seed: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i += 4) b.writeUInt32LE((Math.imul(seed + 1, 2654435761) ^ i) >>> 0, i);
  return b;
}
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('base64');

/** Let the snapshot's completion happen: advance the simulated clock past snapshotMs. */
async function letComplete(): Promise<void> {
  if (cloud.control) cloud.control.clock.advance(cloud.control.delays.snapshotMs + 1);
  else if (cloud.isLocalCloud) await simControl(cloud.endpoint, '/clock', { advanceMs: 60_000 });
}

async function put(snapshotId: string, index: number, data: Buffer, checksum = sha(data)) {
  return cloud.clients.ebs.send(new PutSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: index, BlockData: data, DataLength: data.length, Checksum: checksum, ChecksumAlgorithm: 'SHA256' }));
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    const x = e as { name: string; Reason?: string; $metadata?: { httpStatusCode?: number } };
    return `${x.name} ${x.$metadata?.httpStatusCode} ${x.Reason ?? ''}`.trim();
  }
  throw new Error('expected the call to fail');
}

test('StartSnapshot -> PutSnapshotBlock -> CompleteSnapshot -> ListSnapshotBlocks -> GetSnapshotBlock round-trips', async (t) => {
  if (!cloud.isLocalCloud) return t.skip('needs the local clock to complete the snapshot');
  const ebs = cloud.clients.ebs;
  const started = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Description: 'round trip', Tags: [{ Key: 'fleet:name', Value: 'queue-01' }], Timeout: 60 }));
  assert.match(started.SnapshotId!, /^snap-[0-9a-f]+$/);
  assert.equal(started.Status, 'pending');
  assert.equal(started.VolumeSize, 1);
  assert.equal(started.BlockSize, BLOCK);
  assert.equal(started.OwnerId, cloud.control?.account ?? started.OwnerId);
  assert.deepEqual(started.Tags, [{ Key: 'fleet:name', Value: 'queue-01' }]);
  assert.ok(started.StartTime instanceof Date);

  const written = new Map([[0, block(0)], [7, block(7)], [2047, block(2047)]]);
  for (const [i, data] of written) {
    const r = await put(started.SnapshotId!, i, data);
    assert.equal(r.Checksum, sha(data));
    assert.equal(r.ChecksumAlgorithm, 'SHA256');
  }
  // Rewriting a block replaces it: still three changed blocks.
  written.set(7, block(70));
  await put(started.SnapshotId!, 7, written.get(7)!);

  // Not readable while pending, as on AWS.
  assert.equal(await reason(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: started.SnapshotId! }))), 'ResourceNotFoundException 404 SNAPSHOT_NOT_FOUND');

  const aggregate = createHash('sha256');
  for (const i of [...written.keys()].sort((a, b) => a - b)) aggregate.update(Buffer.from(sha(written.get(i)!), 'base64'));
  const done = await ebs.send(new CompleteSnapshotCommand({ SnapshotId: started.SnapshotId!, ChangedBlocksCount: 3, Checksum: aggregate.digest('base64'), ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' }));
  assert.equal(done.Status, 'pending');
  await letComplete();

  const list = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: started.SnapshotId! }));
  assert.deepEqual(list.Blocks!.map((b) => b.BlockIndex), [0, 7, 2047]);
  assert.equal(list.VolumeSize, 1);
  for (const b of list.Blocks!) {
    const got = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: started.SnapshotId!, BlockIndex: b.BlockIndex!, BlockToken: b.BlockToken! }));
    const bytes = Buffer.from(await got.BlockData!.transformToByteArray());
    assert.equal(got.DataLength, BLOCK);
    assert.equal(got.Checksum, sha(bytes));
    assert.ok(bytes.equals(written.get(b.BlockIndex!)!), `block ${b.BlockIndex} round-trips`);
  }

  // A child snapshot starts from its parent's blocks; ListChangedBlocks sees what it changed.
  const child = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: started.SnapshotId! }));
  assert.equal(child.ParentSnapshotId, started.SnapshotId);
  await put(child.SnapshotId!, 8, block(8));
  await ebs.send(new CompleteSnapshotCommand({ SnapshotId: child.SnapshotId!, ChangedBlocksCount: 1 }));
  await letComplete();
  const childList = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: child.SnapshotId! }));
  assert.deepEqual(childList.Blocks!.map((b) => b.BlockIndex), [0, 7, 8, 2047]);
  const changed = await ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: started.SnapshotId!, SecondSnapshotId: child.SnapshotId! }));
  assert.deepEqual(changed.ChangedBlocks!.map((b) => b.BlockIndex), [8]);
});

test('write errors carry AWS codes and Reasons', async (t) => {
  if (!cloud.isLocalCloud) return t.skip('error wording of the local cloud');
  const ebs = cloud.clients.ebs;
  const s = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
  const id = s.SnapshotId!;
  const data = block(1);
  assert.equal(await reason(put(id, 0, data, sha(block(2)))), 'ValidationException 400 INVALID_CHECKSUM');
  assert.equal(await reason(ebs.send(new PutSnapshotBlockCommand({ SnapshotId: id, BlockIndex: 0, BlockData: data.subarray(0, 4096), DataLength: 4096, Checksum: sha(data.subarray(0, 4096)), ChecksumAlgorithm: 'SHA256' }))), 'ValidationException 400 INVALID_PARAMETER_VALUE');
  assert.equal(await reason(put(id, 2048, data)), 'ValidationException 400 INVALID_BLOCK', 'beyond a 1 GiB volume');
  assert.equal(await reason(put('snap-0000000000000dead', 0, data)), 'ResourceNotFoundException 404 SNAPSHOT_NOT_FOUND');
  assert.equal(await reason(ebs.send(new StartSnapshotCommand({ VolumeSize: 0 }))), 'ValidationException 400 INVALID_VOLUME_SIZE');
  assert.equal(await reason(ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: 'snap-0000000000000dead' }))), 'ResourceNotFoundException 404 DEPENDENCY_RESOURCE_NOT_FOUND');
  await put(id, 0, data);
  assert.equal(await reason(ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 2 }))), 'ValidationException 400 INVALID_PARAMETER_VALUE', 'count does not match');
  assert.equal(await reason(ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 1, Checksum: sha(data), ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' }))), 'ValidationException 400 INVALID_CHECKSUM');
  await ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 1 }));
  assert.equal(await reason(put(id, 1, data)), 'ValidationException 400 INVALID_DEPENDENCY_REQUEST', 'no writes once completing');
  // Same client token: the same snapshot; other parameters: ConflictException.
  const a = await ebs.send(new StartSnapshotCommand({ VolumeSize: 2, ClientToken: 'tok-1' }));
  const b = await ebs.send(new StartSnapshotCommand({ VolumeSize: 2, ClientToken: 'tok-1' }));
  assert.equal(a.SnapshotId, b.SnapshotId);
  assert.equal(await reason(ebs.send(new StartSnapshotCommand({ VolumeSize: 3, ClientToken: 'tok-1' }))), 'ConflictException 409');
});
