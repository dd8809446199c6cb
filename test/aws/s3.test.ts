/**
 * The one S3 object port (src/aws/s3.ts createS3Objects) against the local cloud with the real
 * SDK: listing follows every page (with ETags that are the MD5 of a single-part body), single
 * puts and deletes, batch deletes 1000 keys a call, and errors name what failed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { createS3Journal, createS3Objects } from '../../src/aws/s3.js';
import { createS3Records } from '../../src/aws/records.js';
import { CloudError } from '../../src/errors.js';
import type { ObjectStore } from '../../src/ports.js';

let cloud: LocalCloud;
let s3: S3Client;
let store: ObjectStore;
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

before(async () => {
  cloud = await startLocalCloud();
  s3 = new S3Client({ endpoint: cloud.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' }, maxAttempts: 1 });
  store = createS3Objects(s3);
});
after(async () => {
  s3.destroy();
  await cloud.close();
});

test('list follows every page, in key order, with size and the MD5 ETag; other prefixes are not listed', async () => {
  cloud.control.s3.createBucket('objects-list');
  for (let i = 0; i < 1203; i++) cloud.control.s3.putObject('objects-list', `p/${String(i).padStart(4, '0')}`, `body ${i}`);
  cloud.control.s3.putObject('objects-list', 'q/other', 'x');
  cloud.control.s3.putObject('objects-list', 'pp', 'not under p/');
  cloud.control.resetCalls();
  const got = await store.list('objects-list', 'p/');
  assert.equal(got.length, 1203);
  assert.equal(cloud.control.calls()['s3:ListObjectsV2'], 2, 'two pages of at most 1000');
  assert.deepEqual(got[0], { key: 'p/0000', etag: md5('body 0'), size: 'body 0'.length });
  assert.deepEqual(got.map((o) => o.key), [...got.map((o) => o.key)].sort());
  assert.deepEqual(await store.list('objects-list', 'nothing/'), []);
});

test('put writes the bytes (the ETag is their MD5); delete removes one key and is idempotent', async () => {
  cloud.control.s3.createBucket('objects-put');
  await store.put('objects-put', 'm/promises.cf', new TextEncoder().encode('bundle agent main {}\n'));
  assert.equal(cloud.control.s3.getObject('objects-put', 'm/promises.cf')?.toString(), 'bundle agent main {}\n');
  assert.deepEqual(await store.list('objects-put', 'm/'), [{ key: 'm/promises.cf', etag: md5('bundle agent main {}\n'), size: 21 }]);
  await store.delete('objects-put', 'm/promises.cf');
  await store.delete('objects-put', 'm/promises.cf');
  assert.deepEqual(await store.list('objects-put', 'm/'), []);
});

test('deleteMany deletes 1000 keys a call and counts them; nothing to delete makes no call', async () => {
  cloud.control.s3.createBucket('objects-many');
  const keys = Array.from({ length: 2001 }, (_, i) => `web-01/${i}`);
  for (const k of keys) cloud.control.s3.putObject('objects-many', k, k);
  cloud.control.s3.putObject('objects-many', 'web-02/kept', 'kept');
  cloud.control.resetCalls();
  assert.equal(await store.deleteMany('objects-many', keys), 2001);
  assert.equal(cloud.control.calls()['s3:DeleteObjects'], 3);
  assert.deepEqual(cloud.control.s3.objects('objects-many').map((o) => o.key), ['web-02/kept']);
  cloud.control.resetCalls();
  assert.equal(await store.deleteMany('objects-many', []), 0);
  assert.equal(cloud.control.calls()['s3:DeleteObjects'] ?? 0, 0);
});

test('a missing bucket is a CloudError naming the location', async () => {
  await assert.rejects(store.list('no-such-bucket-here', 'p/'), (e: unknown) => e instanceof CloudError && e.code === 'NoSuchBucket' && /s3:\/\/no-such-bucket-here\/p\//.test(e.message));
  await assert.rejects(store.put('no-such-bucket-here', 'k', new Uint8Array()), (e: unknown) => e instanceof CloudError && /writing s3:\/\/no-such-bucket-here\/k/.test(e.message));
});

test('journal and records: a create-only write that races (409 ConditionalRequestConflict) is read again and retried; an existing key is never overwritten', async () => {
  cloud.control.s3.createBucket('journal-races');
  const journal = createS3Journal(s3, 'journal-races', 'j');
  const records = createS3Records(s3, 'journal-races', 'r');
  // The racing write lost to nobody: the key is still absent, so the retry writes it.
  cloud.control.s3.conflictNext('journal-races', 'j/a.json', 1);
  assert.equal(await journal.create('a.json', { n: 1 }), true);
  assert.deepEqual(await journal.read('a.json'), { n: 1 });
  cloud.control.s3.conflictNext('journal-races', 'r/m', 1);
  assert.equal(await records.create('m', { n: 1 }), true);
  // It lost to a writer that got there first: the key exists, so this write reports it exists.
  cloud.control.s3.putObject('journal-races', 'j/b.json', '{"first":true}');
  cloud.control.s3.conflictNext('journal-races', 'j/b.json', 1);
  assert.equal(await journal.create('b.json', { first: false }), false);
  assert.deepEqual(await journal.read('b.json'), { first: true });
  assert.equal(await records.create('m', { n: 2 }), false);
  assert.deepEqual(await records.read('m'), { n: 1 });
  assert.deepEqual((await records.list('')).map((r) => r.key), ['m']);
});
