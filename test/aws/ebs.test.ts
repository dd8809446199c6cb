/**
 * The EBS direct adapter (src/aws/ebs.ts) against the local cloud: it follows NextToken to
 * the end, through pages that are empty (a page covers a range of block indexes, so a sparse
 * snapshot answers many empty pages with a token), and counts what it was given.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EC2Client, CreateSnapshotCommand, CreateVolumeCommand } from '@aws-sdk/client-ec2';
import { EBSClient } from '@aws-sdk/client-ebs';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { createEbsDirect } from '../../src/aws/ebs.js';
import { CloudError } from '../../src/errors.js';

let cloud: LocalCloud;
let ec2: EC2Client;
let ebs: EBSClient;
const HOUR = 3_600_000;
const creds = { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' };

before(async () => {
  // Real-time speed and an hour per snapshot and per volume: nothing completes on its own
  // during the test; the test moves the local cloud's clock itself (no sleeps, no races).
  cloud = await startLocalCloud({ clockSpeed: 1, delays: { snapshotMs: HOUR, attachMs: HOUR } });
  ec2 = new EC2Client({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: creds });
  ebs = new EBSClient({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
});
after(async () => {
  ec2.destroy();
  ebs.destroy();
  await cloud.close();
});

async function completed(volumeId: string): Promise<string> {
  const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
  assert.notEqual(cloud.control.ec2.snapshots().find((x) => x.snapshotId === s.SnapshotId)?.state, 'completed');
  cloud.control.clock.advance(HOUR);
  assert.equal(cloud.control.ec2.snapshots().find((x) => x.snapshotId === s.SnapshotId)?.state, 'completed', 'completed after the snapshot delay');
  return s.SnapshotId!;
}

/** A new volume is available once the local cloud's clock passed its creation delay. */
function available(volumeId: string): void {
  cloud.control.clock.advance(HOUR);
  assert.equal(cloud.control.ec2.volume(volumeId)?.state, 'available');
}

test('a sparse 1000 GiB snapshot: every page followed, empty ones included; changed blocks counted', async () => {
  const v = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1000, VolumeType: 'gp3' }));
  const id = v.VolumeId!;
  available(id);
  // 1000 GiB = 2,048,000 blocks; a page of 10,000 results covers 100,000 indexes: ~20 pages, most of them empty.
  cloud.control.ec2.writeVolumeBlocks(id, { 0: 'a', 1_000_000: 'b', 2_047_999: 'c' });
  const s1 = await completed(id);
  cloud.control.ec2.writeVolumeBlocks(id, { 1_000_000: 'b2', 1_500_000: 'd' });
  const s2 = await completed(id);

  cloud.control.resetCalls();
  const direct = createEbsDirect(ebs);
  const listed = await direct.snapshotBlocks(s1);
  assert.equal(listed.blocks, 3);
  assert.equal(listed.volumeSizeGiB, 1000);
  assert.equal(listed.blockSize, 524_288);
  assert.ok(listed.pages >= 20, `followed ${listed.pages} pages`);
  assert.equal(cloud.control.calls()['ebs:ListSnapshotBlocks'], listed.pages, 'one call per page');

  const changed = await direct.changedBlocks(s1, s2);
  assert.equal(changed.changed, 2, 'block 1,000,000 rewritten and 1,500,000 new');
  assert.ok(changed.pages >= 15, `followed ${changed.pages} pages`);
  assert.equal((await direct.snapshotBlocks(s2)).blocks, 4);
});

test('errors keep their AWS code: a snapshot that does not exist, unrelated snapshots', async () => {
  const direct = createEbsDirect(ebs);
  await assert.rejects(direct.snapshotBlocks('snap-0000000000000dead'), (e: unknown) => e instanceof CloudError && e.code === 'ResourceNotFoundException');
  const a = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, VolumeType: 'gp3' }));
  const b = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, VolumeType: 'gp3' }));
  cloud.control.clock.advance(HOUR);
  for (const v of [a, b]) assert.equal(cloud.control.ec2.volume(v.VolumeId!)?.state, 'available');
  const sa = await completed(a.VolumeId!);
  const sb = await completed(b.VolumeId!);
  await assert.rejects(direct.changedBlocks(sa, sb), (e: unknown) => e instanceof CloudError && e.code === 'ValidationException');
});
