/**
 * Conformance of the local cloud's S3 (REST-XML, path-style) with the real @aws-sdk/client-s3:
 * buckets, objects, checksums and aws-chunked uploads, conditional writes and reads, Range,
 * ListObjectsV2 / ListObjects pagination, errors, and the fault knobs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutBucketTaggingCommand,
  PutObjectCommand,
  S3Client,
  type BucketLocationConstraint,
  type ListObjectsV2CommandOutput,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { cloudUnderTest, errorCode, errorStatus, type CloudUnderTest } from './harness.js';

let cloud: CloudUnderTest;
let s3: S3Client;
const extraClients: S3Client[] = [];
const run = Date.now().toString(36);
let seq = 0;

/** A fresh bucket name for one test. */
function name(tag: string): string {
  return `fleet-${tag}-${run}-${++seq}`;
}

async function newBucket(tag: string): Promise<string> {
  const b = name(tag);
  await s3.send(new CreateBucketCommand({ Bucket: b }));
  return b;
}

/** An S3 client for another Region (path-style, like the harness's). */
function clientIn(region: string, extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): S3Client {
  const c = new S3Client({
    endpoint: cloud.endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'local-cloud-secret' },
    maxAttempts: 1,
    ...extra,
  });
  extraClients.push(c);
  return c;
}

async function bodyOf(out: { Body?: unknown }): Promise<Buffer> {
  const b = out.Body as { transformToByteArray(): Promise<Uint8Array> };
  return Buffer.from(await b.transformToByteArray());
}

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

/** Run `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

/**
 * A client whose requests are altered after the SDK has built them (after flexible checksums,
 * before signing), to send what a broken or hostile client would.
 */
function tamperingClient(tamper: (req: { headers: Record<string, string>; body: unknown }) => void): S3Client {
  const c = clientIn(cloud.region);
  c.middlewareStack.add(
    (next) => async (args) => {
      tamper((args as unknown as { request: { headers: Record<string, string>; body: unknown } }).request);
      return next(args);
    },
    { step: 'build', priority: 'low', name: 'conformanceTamper' },
  );
  return c;
}

before(async () => {
  cloud = await cloudUnderTest();
  s3 = cloud.clients.s3;
});

after(async () => {
  for (const c of extraClients) c.destroy();
  await cloud.close();
});

describe('buckets', () => {
  test('CreateBucket, HeadBucket, ListBuckets, GetBucketLocation', async () => {
    const b = name('create');
    const out = await s3.send(new CreateBucketCommand({ Bucket: b }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    const head = await s3.send(new HeadBucketCommand({ Bucket: b }));
    assert.equal(head.BucketRegion, cloud.region);
    const list = await s3.send(new ListBucketsCommand({}));
    const mine = list.Buckets?.find((x) => x.Name === b);
    assert.ok(mine, 'new bucket is listed');
    assert.ok(mine.CreationDate instanceof Date);
    assert.ok(list.Owner?.ID, 'owner id present');
    const loc = await s3.send(new GetBucketLocationCommand({ Bucket: b }));
    assert.equal(loc.LocationConstraint ?? '', cloud.region === 'us-east-1' ? '' : cloud.region);
  });

  test('ListBuckets pages with MaxBuckets / ContinuationToken and filters by Prefix', async () => {
    const tag = `lbp${run}`;
    const mine = [`${tag}-a`, `${tag}-b`, `${tag}-c`];
    for (const b of mine) await s3.send(new CreateBucketCommand({ Bucket: b }));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(new ListBucketsCommand({ Prefix: tag, MaxBuckets: 2, ContinuationToken: token }));
      for (const b of page.Buckets ?? []) seen.push(b.Name!);
      assert.ok((page.Buckets ?? []).length <= 2);
      token = page.ContinuationToken;
      pages++;
    } while (token);
    assert.deepEqual(seen, mine);
    assert.equal(pages, 2);
    assert.equal(await errorCode(s3.send(new ListBucketsCommand({ MaxBuckets: 0 }))), 'InvalidArgument');
    for (const b of mine) await s3.send(new DeleteBucketCommand({ Bucket: b }));
  });

  test('HeadBucket on a missing bucket is 404 NotFound without a body', async () => {
    const p = s3.send(new HeadBucketCommand({ Bucket: name('missing') }));
    assert.equal(await errorCode(p), 'NotFound');
    assert.equal(await errorStatus(s3.send(new HeadBucketCommand({ Bucket: name('missing') }))), 404);
  });

  test('invalid bucket names are InvalidBucketName', async () => {
    const bad = [
      'ab',
      'a'.repeat(64),
      'Upper-Case-Bucket',
      'under_score_bucket',
      '-leading-hyphen',
      'trailing-hyphen-',
      'double..dots',
      '192.168.5.4',
      'xn--punycode-bucket',
      'sthree-reserved',
      'amzn-s3-demo-bucket',
      'alias-s3alias',
      'lambda--ol-s3',
      'access.mrap',
      'tables--table-s3',
      'has space here',
    ];
    for (const n of bad) {
      const p = s3.send(new CreateBucketCommand({ Bucket: n }));
      assert.equal(await errorCode(p), 'InvalidBucketName', `bucket name ${JSON.stringify(n)}`);
    }
    // The boundaries that are valid.
    const ok = [`a${run}`.slice(0, 3).padEnd(3, '0'), `b${'x'.repeat(60)}${seq % 10}z`.slice(0, 63), `dots.and-hyphens.${run}`];
    for (const n of ok) {
      await s3.send(new CreateBucketCommand({ Bucket: n }));
      await s3.send(new DeleteBucketCommand({ Bucket: n }));
    }
  });

  test('re-creating your own bucket: 200 in us-east-1 (legacy), BucketAlreadyOwnedByYou 409 elsewhere', async () => {
    const east = clientIn('us-east-1');
    const b1 = name('owned-east');
    await east.send(new CreateBucketCommand({ Bucket: b1 }));
    const again = await east.send(new CreateBucketCommand({ Bucket: b1 }));
    assert.equal(again.$metadata.httpStatusCode, 200);

    const eu = clientIn('eu-west-1');
    const b2 = name('owned-eu');
    await eu.send(new CreateBucketCommand({ Bucket: b2 })); // the SDK adds LocationConstraint eu-west-1
    const p = eu.send(new CreateBucketCommand({ Bucket: b2 }));
    assert.equal(await errorCode(p), 'BucketAlreadyOwnedByYou');
    assert.equal(await errorStatus(eu.send(new CreateBucketCommand({ Bucket: b2 }))), 409);
    // Also from us-east-1: the bucket exists in another Region.
    assert.equal(await errorCode(east.send(new CreateBucketCommand({ Bucket: b2 }))), 'BucketAlreadyOwnedByYou');
    await eu.send(new DeleteBucketCommand({ Bucket: b2 }));
    await east.send(new DeleteBucketCommand({ Bucket: b1 }));
  });

  test('LocationConstraint rules per endpoint Region', async () => {
    const east = clientIn('us-east-1');
    const eu = clientIn('eu-west-1');
    assert.equal(
      await errorCode(east.send(new CreateBucketCommand({ Bucket: name('lc'), CreateBucketConfiguration: { LocationConstraint: 'us-east-1' as BucketLocationConstraint } }))),
      'InvalidLocationConstraint',
    );
    assert.equal(
      await errorCode(eu.send(new CreateBucketCommand({ Bucket: name('lc'), CreateBucketConfiguration: { LocationConstraint: 'us-west-2' } }))),
      'IllegalLocationConstraintException',
    );
    assert.equal(
      await errorCode(eu.send(new CreateBucketCommand({ Bucket: name('lc'), CreateBucketConfiguration: { LocationConstraint: 'moon-central-1' as BucketLocationConstraint } }))),
      'InvalidLocationConstraint',
    );
    // From us-east-1 a bucket may be created in another Region; it then lives there.
    const b = name('lc-remote');
    await east.send(new CreateBucketCommand({ Bucket: b, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    const loc = await east.send(new GetBucketLocationCommand({ Bucket: b }));
    assert.equal(loc.LocationConstraint, 'eu-west-1');
    await eu.send(new DeleteBucketCommand({ Bucket: b }));
  });

  test('a bucket in another Region answers 301 PermanentRedirect; the SDK follows it when asked', async () => {
    const eu = clientIn('eu-west-1');
    const b = name('redirect');
    await eu.send(new CreateBucketCommand({ Bucket: b }));
    await eu.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'v' }));
    const west = clientIn('us-west-2');
    const p = west.send(new GetObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(await errorStatus(p), 301);
    assert.equal(await errorCode(west.send(new ListObjectsV2Command({ Bucket: b }))), 'PermanentRedirect');
    const following = clientIn('us-west-2', { followRegionRedirects: true });
    const got = await following.send(new GetObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal((await bodyOf(got)).toString(), 'v');
    const head = await following.send(new HeadBucketCommand({ Bucket: b }));
    assert.equal(head.BucketRegion, 'eu-west-1');
    await eu.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    await eu.send(new DeleteBucketCommand({ Bucket: b }));
  });

  test('DeleteBucket: BucketNotEmpty while it holds objects, then 204 and gone', async () => {
    const b = await newBucket('del');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'x', Body: 'x' }));
    const p = s3.send(new DeleteBucketCommand({ Bucket: b }));
    assert.equal(await errorCode(p), 'BucketNotEmpty');
    assert.equal(await errorStatus(s3.send(new DeleteBucketCommand({ Bucket: b }))), 409);
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'x' }));
    const out = await s3.send(new DeleteBucketCommand({ Bucket: b }));
    assert.equal(out.$metadata.httpStatusCode, 204);
    assert.equal(await errorCode(s3.send(new HeadBucketCommand({ Bucket: b }))), 'NotFound');
    assert.equal(await errorCode(s3.send(new DeleteBucketCommand({ Bucket: b }))), 'NoSuchBucket');
  });

  test('every operation on a missing bucket is NoSuchBucket 404 with BucketName', async () => {
    const b = name('nobucket');
    const ops: (() => Promise<unknown>)[] = [
      () => s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'v' })),
      () => s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' })),
      () => s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' })),
      () => s3.send(new ListObjectsV2Command({ Bucket: b })),
      () => s3.send(new ListObjectsCommand({ Bucket: b })),
      () => s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'k' }] } })),
      () => s3.send(new GetBucketLocationCommand({ Bucket: b })),
    ];
    for (const op of ops) {
      try {
        await op();
        assert.fail('expected NoSuchBucket');
      } catch (err) {
        const e = err as { name: string; BucketName?: string; $metadata: { httpStatusCode: number } };
        assert.equal(e.name, 'NoSuchBucket');
        assert.equal(e.$metadata.httpStatusCode, 404);
        assert.equal(e.BucketName, b);
      }
    }
    assert.equal(await errorStatus(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' }))), 404);
  });
});

describe('objects', () => {
  let bucket: string;
  before(async () => {
    bucket = await newBucket('obj');
  });

  test('put / get / head / delete round trip with a binary body and metadata', async () => {
    const body = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(100_000)]);
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'bin/data.bin',
        Body: body,
        ContentType: 'application/x-fleet',
        CacheControl: 'max-age=60',
        ContentDisposition: 'attachment; filename="data.bin"',
        Metadata: { owner: 'web-03', generation: '7' },
      }),
    );
    assert.equal(put.ETag, `"${md5(body)}"`);
    assert.equal(put.ServerSideEncryption, 'AES256');

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bin/data.bin' }));
    assert.deepEqual(await bodyOf(got), body);
    assert.equal(got.ETag, put.ETag);
    assert.equal(got.ContentType, 'application/x-fleet');
    assert.equal(got.CacheControl, 'max-age=60');
    assert.equal(got.ContentDisposition, 'attachment; filename="data.bin"');
    assert.deepEqual(got.Metadata, { owner: 'web-03', generation: '7' });
    assert.equal(got.ContentLength, body.length);
    assert.equal(got.AcceptRanges, 'bytes');
    assert.ok(got.LastModified instanceof Date);

    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bin/data.bin' }));
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ETag, put.ETag);
    assert.deepEqual(head.Metadata, { owner: 'web-03', generation: '7' });

    // Overwrite: strong read-after-write consistency.
    const v2 = Buffer.from('second version');
    const put2 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bin/data.bin', Body: v2 }));
    assert.equal(put2.ETag, `"${md5(v2)}"`);
    const got2 = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'bin/data.bin' }));
    assert.deepEqual(await bodyOf(got2), v2);
    assert.deepEqual(got2.Metadata, {});

    const del = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'bin/data.bin' }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    const again = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'bin/data.bin' }));
    assert.equal(again.$metadata.httpStatusCode, 204, 'DeleteObject is idempotent');
    assert.equal(await errorCode(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bin/data.bin' }))), 'NotFound');
  });

  test('non-ASCII metadata is stored as text and returned RFC 2047 encoded, as S3 does', async () => {
    // Node sends 'välue' as UTF-8 bytes; characters beyond Latin-1 must be sent as an RFC 2047 word.
    const word = `=?UTF-8?B?${Buffer.from('✓ ok').toString('base64')}?=`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'meta-utf8', Body: 'x', Metadata: { note: 'välue', word, plain: 'ascii' } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'meta-utf8' }));
    assert.equal(head.Metadata?.['note'], `=?UTF-8?B?${Buffer.from('välue').toString('base64')}?=`);
    assert.equal(head.Metadata?.['word'], word);
    assert.equal(head.Metadata?.['plain'], 'ascii');
    if (cloud.control) {
      const info = cloud.control.s3.objects(bucket).find((o) => o.key === 'meta-utf8');
      assert.deepEqual(info?.metadata, { note: 'välue', word: '✓ ok', plain: 'ascii' });
    }
    const tooBig = s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'meta-big', Body: 'x', Metadata: { big: 'v'.repeat(2100) } }));
    assert.equal(await errorCode(tooBig), 'MetadataTooLarge');
  });

  test('empty objects', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'empty', Body: Buffer.alloc(0) }));
    assert.equal(put.ETag, '"d41d8cd98f00b204e9800998ecf8427e"');
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'empty' }));
    assert.equal((await bodyOf(got)).length, 0);
    assert.equal(got.ContentLength, 0);
  });

  test('NoSuchKey 404 carries the Key, RequestId and HostId', async () => {
    try {
      await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'no/such key' }));
      assert.fail('expected NoSuchKey');
    } catch (err) {
      const e = err as { name: string; Key?: string; RequestId?: string; HostId?: string; $metadata: { httpStatusCode: number; requestId?: string; extendedRequestId?: string } };
      assert.equal(e.name, 'NoSuchKey');
      assert.equal(e.$metadata.httpStatusCode, 404);
      assert.equal(e.Key, 'no/such key');
      assert.ok(e.RequestId);
      assert.equal(e.$metadata.requestId, e.RequestId);
      assert.ok(e.HostId);
      assert.ok(e.$metadata.extendedRequestId, 'x-amz-id-2 header');
    }
  });

  test('keys up to 1024 UTF-8 bytes; longer is KeyTooLongError', async () => {
    const ok = 'é'.repeat(512); // 1024 bytes
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: ok, Body: 'x' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: ok }));
    assert.equal((await bodyOf(got)).toString(), 'x');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: ok }));
    const p = s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${ok}a`, Body: 'x' }));
    assert.equal(await errorCode(p), 'KeyTooLongError');
  });

  test('keys with unicode and special characters round-trip through put, get and list', async () => {
    const b = await newBucket('keys');
    const keys = [
      'plain',
      'with space',
      'plus+sign',
      'percent%20literal',
      'dir/sub/file.txt',
      '/leading-slash',
      'double//slash',
      'trailing/',
      'amp&lt;<tag>"quote\'',
      'ümlaut/ñ/日本語',
      'sort-😀',
      'sort-Ａ',
      'query?x=1#frag',
      'tab\there',
      'semi;colon,comma=eq',
      '~tilde*star(paren)!',
    ];
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: `v:${k}` }));
    for (const k of keys) {
      const got = await s3.send(new GetObjectCommand({ Bucket: b, Key: k }));
      assert.equal((await bodyOf(got)).toString(), `v:${k}`, `key ${JSON.stringify(k)}`);
    }
    const list = await s3.send(new ListObjectsV2Command({ Bucket: b }));
    const listed = (list.Contents ?? []).map((c) => c.Key!);
    const utf8Sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(listed, utf8Sorted, 'listed in UTF-8 binary order');
    // U+FF21 sorts before U+1F600 in UTF-8 although not in UTF-16.
    assert.ok(listed.indexOf('sort-Ａ') < listed.indexOf('sort-😀'), 'U+FF21 before U+1F600 (not UTF-16 order)');
    const encoded = await s3.send(new ListObjectsV2Command({ Bucket: b, EncodingType: 'url' }));
    assert.equal(encoded.EncodingType, 'url');
    const decoded = (encoded.Contents ?? []).map((c) => decodeURIComponent(c.Key!.replace(/\+/g, ' ')));
    assert.deepEqual(decoded, utf8Sorted, 'encoding-type=url keys decode back');
  });

  test('unsupported subresources are NotImplemented 501', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'acl-target', Body: 'x' }));
    const p = s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'acl-target' }));
    assert.equal(await errorCode(p), 'NotImplemented');
    assert.equal(await errorStatus(s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'acl-target' }))), 501);
    assert.equal(await errorCode(s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } }))), 'NotImplemented');
  });

  test('DeleteObjects deletes many, reports Deleted and Errors, Quiet hides successes', async () => {
    const b = await newBucket('multi');
    for (const k of ['a', 'b', 'c', 'd']) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: k }));
    const out = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'a' }, { Key: 'b' }, { Key: 'missing' }, { Key: 'x'.repeat(1025) }] } }));
    assert.deepEqual((out.Deleted ?? []).map((d) => d.Key).sort(), ['a', 'b', 'missing']);
    assert.equal(out.Errors?.length, 1);
    assert.equal(out.Errors?.[0]?.Code, 'KeyTooLongError');
    const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'c' }, { Key: 'd' }], Quiet: true } }));
    assert.equal(quiet.Deleted, undefined);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: b }));
    assert.equal(left.KeyCount, 0);
    assert.equal(await errorCode(s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [] } }))), 'MalformedXML');
  });

  test('malformed XML bodies are MalformedXML 400', async () => {
    const c = tamperingClient((req) => {
      req.body = '<CreateBucketConfiguration><LocationConstraint>eu-west-1</Location';
      delete req.headers['content-length'];
    });
    const p = c.send(new CreateBucketCommand({ Bucket: name('malformed'), CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    assert.equal(await errorCode(p), 'MalformedXML');
  });
});

describe('checksums and integrity', () => {
  let bucket: string;
  before(async () => {
    bucket = await newBucket('sum');
  });

  test('the SDK default (CRC32 header) is verified, stored and echoed with ChecksumMode', async () => {
    const body = randomBytes(5000);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'default', Body: body }));
    assert.ok(put.ChecksumCRC32, 'PutObject echoes the CRC32');
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'default', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumCRC32, put.ChecksumCRC32);
    assert.equal(got.ChecksumType, 'FULL_OBJECT');
    assert.deepEqual(await bodyOf(got), body);
    const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'default' }));
    assert.deepEqual(list.Contents?.[0]?.ChecksumAlgorithm, ['CRC32']);
  });

  test('every algorithm the SDK computes is accepted and validated back by the SDK', async () => {
    const body = randomBytes(30_000);
    for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `alg-${alg}`, Body: body, ChecksumAlgorithm: alg }));
      const field = `Checksum${alg}` as 'ChecksumCRC32';
      assert.ok(put[field], `${alg} echoed`);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `alg-${alg}`, ChecksumMode: 'ENABLED' }));
      assert.equal(got[field], put[field]);
      assert.deepEqual(await bodyOf(got), body, `${alg} body validated by the SDK`);
    }
  });

  test('a streaming body is sent aws-chunked with a trailing checksum and decoded', async () => {
    const body = randomBytes(3 * 16384 + 123);
    const chunks = [body.subarray(0, 16384), body.subarray(16384, 32768), body.subarray(32768, 49152), body.subarray(49152)];
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'streamed', Body: Readable.from(chunks), ContentLength: body.length }));
    assert.equal(put.ETag, `"${md5(body)}"`);
    assert.ok(put.ChecksumCRC32);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'streamed' }));
    assert.deepEqual(await bodyOf(got), body);
    assert.equal(got.ContentEncoding, undefined, 'aws-chunked is not stored as a content encoding');
  });

  test('aws-chunked chunks under 8 KiB (except the last) are InvalidChunkSizeError', async () => {
    const body = randomBytes(24 * 1024);
    const small = Array.from({ length: 24 }, (_, i) => body.subarray(i * 1024, (i + 1) * 1024));
    const p = s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'small-chunks', Body: Readable.from(small), ContentLength: body.length }));
    assert.equal(await errorCode(p), 'InvalidChunkSizeError');
    const buffered = clientIn(cloud.region, { requestStreamBufferSize: 65_536 });
    await buffered.send(new PutObjectCommand({ Bucket: bucket, Key: 'small-chunks', Body: Readable.from(small), ContentLength: body.length }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'small-chunks' }));
    assert.deepEqual(await bodyOf(got), body);
  });

  test('a wrong checksum header is BadDigest; a malformed one InvalidRequest; two are InvalidRequest', async () => {
    const wrong = tamperingClient((req) => {
      req.headers['x-amz-checksum-crc32'] = 'AAAAAA==';
    });
    assert.equal(await errorCode(wrong.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-sum', Body: 'payload' }))), 'BadDigest');
    const malformed = tamperingClient((req) => {
      req.headers['x-amz-checksum-crc32'] = 'not base64!';
    });
    assert.equal(await errorCode(malformed.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-sum', Body: 'payload' }))), 'InvalidRequest');
    const two = tamperingClient((req) => {
      req.headers['x-amz-checksum-sha256'] = createHash('sha256').update('payload').digest('base64');
    });
    assert.equal(await errorCode(two.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-sum', Body: 'payload' }))), 'InvalidRequest');
    assert.equal(await errorCode(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bad-sum' }))), 'NotFound', 'nothing was stored');
  });

  test('a wrong trailing checksum in an aws-chunked body is BadDigest', async () => {
    const data = Buffer.from('chunked payload');
    const c = tamperingClient((req) => {
      req.headers['content-encoding'] = 'aws-chunked';
      req.headers['x-amz-content-sha256'] = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
      req.headers['x-amz-decoded-content-length'] = String(data.length);
      req.headers['x-amz-trailer'] = 'x-amz-checksum-crc32';
      delete req.headers['x-amz-checksum-crc32'];
      const framed = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n')]);
      req.body = framed;
      req.headers['content-length'] = String(framed.length);
    });
    assert.equal(await errorCode(c.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-trailer', Body: data }))), 'BadDigest');
  });

  test('a broken aws-chunked frame is IncompleteBody; a short body is IncompleteBody too', async () => {
    const data = Buffer.from('chunked payload');
    const framing = (frame: (d: Buffer) => Buffer, declared: number) =>
      tamperingClient((req) => {
        req.headers['content-encoding'] = 'aws-chunked';
        req.headers['x-amz-content-sha256'] = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
        req.headers['x-amz-decoded-content-length'] = String(declared);
        delete req.headers['x-amz-checksum-crc32'];
        delete req.headers['x-amz-sdk-checksum-algorithm'];
        const framed = frame(data);
        req.body = framed;
        req.headers['content-length'] = String(framed.length);
      });
    const truncated = framing((d) => Buffer.concat([Buffer.from('ff\r\n'), d]), data.length);
    assert.equal(await errorCode(truncated.send(new PutObjectCommand({ Bucket: bucket, Key: 'broken-frame', Body: data }))), 'IncompleteBody');
    const short = framing((d) => Buffer.concat([Buffer.from(`${d.length.toString(16)}\r\n`), d, Buffer.from('\r\n0\r\n\r\n')]), data.length + 10);
    assert.equal(await errorCode(short.send(new PutObjectCommand({ Bucket: bucket, Key: 'broken-frame', Body: data }))), 'IncompleteBody');
    const good = framing((d) => Buffer.concat([Buffer.from(`${d.length.toString(16)}\r\n`), d, Buffer.from('\r\n0\r\n\r\n')]), data.length);
    await good.send(new PutObjectCommand({ Bucket: bucket, Key: 'good-frame', Body: data }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'good-frame' }));
    assert.deepEqual(await bodyOf(got), data);
  });

  test('Content-MD5: a wrong digest is BadDigest, a malformed one InvalidDigest', async () => {
    const body = Buffer.from('md5 checked');
    const good = createHash('md5').update(body).digest('base64');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5', Body: body, ContentMD5: good }));
    const other = createHash('md5').update('something else').digest('base64');
    assert.equal(await errorCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5', Body: body, ContentMD5: other }))), 'BadDigest');
    assert.equal(await errorCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5', Body: body, ContentMD5: 'short' }))), 'InvalidDigest');
  });

  test('a body that does not match x-amz-content-sha256 is XAmzContentSHA256Mismatch', async () => {
    const c = tamperingClient((req) => {
      req.headers['x-amz-content-sha256'] = createHash('sha256').update('other').digest('hex');
    });
    assert.equal(await errorCode(c.send(new PutObjectCommand({ Bucket: bucket, Key: 'sha', Body: 'payload' }))), 'XAmzContentSHA256Mismatch');
  });
});

describe('conditional requests', () => {
  let bucket: string;
  before(async () => {
    bucket = await newBucket('cond');
  });

  test("IfNoneMatch '*' creates only once; the second write is 412 PreconditionFailed", async () => {
    const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'journal/op-1', Body: 'one', IfNoneMatch: '*' }));
    assert.ok(first.ETag);
    const p = s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'journal/op-1', Body: 'two', IfNoneMatch: '*' }));
    assert.equal(await errorCode(p), 'PreconditionFailed');
    assert.equal(await errorStatus(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'journal/op-1', Body: 'two', IfNoneMatch: '*' }))), 412);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'journal/op-1' }));
    assert.equal((await bodyOf(got)).toString(), 'one', 'the first write survives');
  });

  test('IfMatch compare-and-swap: the current ETag wins, a stale one is 412, a missing key 404', async () => {
    const v1 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cas', Body: 'v1' }));
    const v2 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cas', Body: 'v2', IfMatch: v1.ETag }));
    assert.notEqual(v2.ETag, v1.ETag);
    assert.equal(await errorCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cas', Body: 'v3', IfMatch: v1.ETag }))), 'PreconditionFailed');
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cas' }));
    assert.equal((await bodyOf(got)).toString(), 'v2');
    assert.equal(await errorCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cas-missing', Body: 'x', IfMatch: v1.ETag }))), 'NoSuchKey');
    // Conditional delete.
    assert.equal(await errorCode(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'cas', IfMatch: v1.ETag }))), 'PreconditionFailed');
    const del = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'cas', IfMatch: v2.ETag }));
    assert.equal(del.$metadata.httpStatusCode, 204);
  });

  test('conflict knob: the next conditional write is 409 ConditionalRequestConflict', async (t) => {
    if (!cloud.control) return t.skip('needs the local cloud control: conflictNext');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'race', Body: 'base' }));
    cloud.control.s3.conflictNext(bucket, 'race', 1);
    const p = s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'race', Body: 'mine', IfNoneMatch: '*' }));
    assert.equal(await errorCode(p), 'ConditionalRequestConflict');
    cloud.control.s3.conflictNext(bucket, 'race', 1);
    assert.equal(await errorStatus(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'race', Body: 'mine', IfMatch: '"whatever"' }))), 409);
    // Used up: the same conditional write now gets its real answer.
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'race' }));
    const ok = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'race', Body: 'mine', IfMatch: head.ETag }));
    assert.ok(ok.ETag);
    // Unconditional writes never conflict.
    cloud.control.s3.conflictNext(bucket, 'race', 1);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'race', Body: 'plain' }));
    assert.equal(await errorCode(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'race', Body: 'x', IfNoneMatch: '*' }))), 'ConditionalRequestConflict');
  });

  test('conditional reads: 304 Not Modified and 412 Precondition Failed', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'read', Body: 'read me' }));
    const etag = put.ETag!;
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'read' }));
    const modified = head.LastModified!;

    assert.equal(await errorStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'read', IfNoneMatch: etag }))), 304);
    assert.equal(await errorStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'read', IfNoneMatch: etag }))), 304);
    const p = s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'read', IfMatch: '"0123456789abcdef0123456789abcdef"' }));
    assert.equal(await errorCode(p), 'PreconditionFailed');
    assert.equal(await errorStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'read', IfMatch: '"0123"' }))), 412);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'read', IfMatch: etag, IfNoneMatch: '"other"' }));
    assert.equal((await bodyOf(got)).toString(), 'read me');

    const later = new Date(modified.getTime() + 60_000);
    const earlier = new Date(modified.getTime() - 60_000);
    assert.equal(await errorStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'read', IfModifiedSince: later }))), 304);
    assert.equal(await errorStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'read', IfUnmodifiedSince: earlier }))), 412);
    const fresh = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'read', IfModifiedSince: earlier, IfUnmodifiedSince: later }));
    assert.equal(fresh.$metadata.httpStatusCode, 200);
    // If-Match true wins over If-Unmodified-Since false (RFC 7232 / S3 docs).
    const both = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'read', IfMatch: etag, IfUnmodifiedSince: earlier }));
    assert.equal(both.$metadata.httpStatusCode, 200);
  });

  test('Range: 206 with Content-Range; unsatisfiable is 416 InvalidRange', async () => {
    const body = Buffer.from('0123456789abcdefghij');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'range', Body: body }));
    const cases: [string, string, string][] = [
      ['bytes=0-4', '01234', 'bytes 0-4/20'],
      ['bytes=15-', 'fghij', 'bytes 15-19/20'],
      ['bytes=-3', 'hij', 'bytes 17-19/20'],
      ['bytes=18-100', 'ij', 'bytes 18-19/20'],
    ];
    for (const [range, want, contentRange] of cases) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range', Range: range }));
      assert.equal(got.$metadata.httpStatusCode, 206, range);
      assert.equal((await bodyOf(got)).toString(), want, range);
      assert.equal(got.ContentRange, contentRange, range);
      assert.equal(got.ContentLength, want.length, range);
    }
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'range', Range: 'bytes=2-5' }));
    assert.equal(head.ContentLength, 4);
    assert.equal(head.ContentRange, 'bytes 2-5/20');
    const p = s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range', Range: 'bytes=20-30' }));
    assert.equal(await errorCode(p), 'InvalidRange');
    assert.equal(await errorStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range', Range: 'bytes=25-' }))), 416);
    // A range the server ignores (syntax it does not honour) returns the whole object.
    const whole = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'range', Range: 'bytes=5-2' }));
    assert.equal(whole.$metadata.httpStatusCode, 200);
    assert.deepEqual(await bodyOf(whole), body);
  });
});

describe('listing', () => {
  let bucket: string;
  const keys: string[] = [];
  before(async () => {
    bucket = await newBucket('list');
    for (let i = 0; i < 2500; i++) keys.push(`item/${String(i).padStart(5, '0')}`);
    // Seeded directly when the cloud is in-process (fast); through PutObject otherwise.
    const control = cloud.control;
    if (control) for (const k of keys) control.s3.putObject(bucket, k, k);
    else await pool(keys, 32, (k) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k })));
  });

  async function listAll(maxKeys: number, extra: { StartAfter?: string; Prefix?: string } = {}): Promise<{ keys: string[]; pages: ListObjectsV2CommandOutput[] }> {
    const seen: string[] = [];
    const pages: ListObjectsV2CommandOutput[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: maxKeys, ContinuationToken: token, ...extra }));
      pages.push(page);
      for (const c of page.Contents ?? []) seen.push(c.Key!);
      assert.equal(page.KeyCount, (page.Contents ?? []).length);
      assert.ok((page.Contents ?? []).length <= maxKeys);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated) assert.ok(token, 'a truncated page has a NextContinuationToken');
    } while (token);
    return { keys: seen, pages };
  }

  test('2,500 keys in pages of 1000 and of 7: each key once, in order', async () => {
    const big = await listAll(1000);
    assert.deepEqual(big.keys, keys);
    assert.equal(big.pages.length, 3);
    assert.equal(big.pages[0]!.MaxKeys, 1000);
    const small = await listAll(7);
    assert.deepEqual(small.keys, keys);
    assert.equal(small.pages.length, Math.ceil(2500 / 7));
  });

  test('MaxKeys is capped at 1000 and defaults to 1000', async () => {
    const def = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(def.KeyCount, 1000);
    assert.equal(def.MaxKeys, 1000);
    assert.equal(def.IsTruncated, true);
    const over = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 5000 }));
    assert.equal(over.KeyCount, 1000);
    const zero = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 0 }));
    assert.equal(zero.KeyCount, 0);
    assert.equal(await errorCode(s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: -1 }))), 'InvalidArgument');
  });

  test('StartAfter starts after the given key (and is echoed)', async () => {
    const out = await listAll(1000, { StartAfter: 'item/02490' });
    assert.deepEqual(out.keys, keys.slice(2491));
    assert.equal(out.pages[0]!.StartAfter, 'item/02490');
    const between = await s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: 'item/00009x', MaxKeys: 2 }));
    assert.deepEqual(between.Contents?.map((c) => c.Key), ['item/00010', 'item/00011']);
  });

  test('a bad continuation token is InvalidArgument', async () => {
    assert.equal(await errorCode(s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: 'not-a-token' }))), 'InvalidArgument');
  });

  test('Prefix and Delimiter roll keys up into CommonPrefixes', async () => {
    const b = await newBucket('tree');
    const tree = ['a.txt', 'b/1', 'b/2', 'b/c/3', 'c/4', 'd', 'prefix/x/1', 'prefix/x/2', 'prefix/y', 'prefix/z/9'];
    for (const k of tree) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: k }));
    const top = await s3.send(new ListObjectsV2Command({ Bucket: b, Delimiter: '/' }));
    assert.deepEqual(top.Contents?.map((c) => c.Key), ['a.txt', 'd']);
    assert.deepEqual(top.CommonPrefixes?.map((p) => p.Prefix), ['b/', 'c/', 'prefix/']);
    assert.equal(top.KeyCount, 5);
    assert.equal(top.Delimiter, '/');

    const under = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'prefix/', Delimiter: '/' }));
    assert.equal(under.Prefix, 'prefix/');
    assert.deepEqual(under.Contents?.map((c) => c.Key), ['prefix/y']);
    assert.deepEqual(under.CommonPrefixes?.map((p) => p.Prefix), ['prefix/x/', 'prefix/z/']);

    const flat = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'b/', FetchOwner: true }));
    assert.ok(flat.Contents?.every((c) => c.Owner?.ID), 'FetchOwner adds Owner');
    assert.deepEqual(flat.Contents?.map((c) => c.Key), ['b/1', 'b/2', 'b/c/3']);
    assert.equal(flat.CommonPrefixes, undefined);

    // Pagination counts common prefixes and resumes after them.
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: b, Delimiter: '/', MaxKeys: 2, ContinuationToken: token }));
      assert.ok((page.KeyCount ?? 0) <= 2);
      for (const c of page.Contents ?? []) seen.push(c.Key!);
      for (const p of page.CommonPrefixes ?? []) seen.push(p.Prefix!);
      token = page.NextContinuationToken;
    } while (token);
    assert.deepEqual(seen.sort(), ['a.txt', 'b/', 'c/', 'd', 'prefix/'].sort());
    assert.equal(seen.length, 5);

    // ListObjects (v1): Marker / NextMarker with a delimiter.
    const v1: string[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await s3.send(new ListObjectsCommand({ Bucket: b, Delimiter: '/', MaxKeys: 2, Marker: marker }));
      for (const c of page.Contents ?? []) v1.push(c.Key!);
      for (const p of page.CommonPrefixes ?? []) v1.push(p.Prefix!);
      if (!page.IsTruncated) break;
      marker = page.NextMarker;
      assert.ok(marker);
    }
    assert.deepEqual(v1.sort(), ['a.txt', 'b/', 'c/', 'd', 'prefix/'].sort());
  });

  test('100,000 keys inserted in random order list in order, linearly', async (t) => {
    if (!cloud.control) return t.skip('needs the local cloud control: seeding 100,000 objects directly');
    const b = name('huge');
    cloud.control.s3.createBucket(b);
    const all = Array.from({ length: 100_000 }, (_, i) => `k/${(i * 7919) % 100_000}`.padEnd(10, '-'));
    // Seeded in slices that yield to the event loop: the local cloud serves this process's
    // SDK client from the same loop, and seconds of synchronous seeding on a busy machine
    // outlasted the server's keep-alive timeout (then 5 s) with the client's pooled socket idle, so
    // the first listing request went out on a connection the server was closing (ECONNRESET).
    for (let i = 0; i < all.length; i += 2_000) {
      for (const k of all.slice(i, i + 2_000)) cloud.control.s3.putObject(b, k, '');
      await new Promise((r) => setImmediate(r));
    }
    // The keys are ASCII, where UTF-16 code unit order (the default sort) is UTF-8 byte order:
    // the order S3 lists in, computed independently of the local cloud's index, and cheaply.
    assert.ok(all.every((k) => /^[\x20-\x7e]+$/.test(k)));
    const expected = [...new Set(all)].sort();
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: b, ContinuationToken: token }));
      for (const c of page.Contents ?? []) seen.push(c.Key!);
      token = page.NextContinuationToken;
      pages++;
    } while (token);
    assert.equal(pages, Math.ceil(expected.length / 1000));
    assert.deepEqual(seen, expected);
    assert.equal(cloud.control.s3.objects(b).length, expected.length);
  });
});

describe('fault knobs', () => {
  test('throttling: s3:write bucket of 3 answers SlowDown 503 on the 4th write', async (t) => {
    if (!cloud.control) return t.skip('needs the local cloud control: setThrottling');
    const b = await newBucket('throttle');
    cloud.control.setThrottling(true, { 's3:write': { burst: 3, refillPerSec: 1 } });
    try {
      for (let i = 0; i < 3; i++) await s3.send(new PutObjectCommand({ Bucket: b, Key: `k${i}`, Body: 'x' }));
      const p = s3.send(new PutObjectCommand({ Bucket: b, Key: 'k3', Body: 'x' }));
      assert.equal(await errorCode(p), 'SlowDown');
      assert.equal(await errorStatus(s3.send(new PutObjectCommand({ Bucket: b, Key: 'k3', Body: 'x' }))), 503);
      // Reads have their own bucket.
      const got = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k0' }));
      assert.equal((await bodyOf(got)).toString(), 'x');
      // The bucket refills on the simulated clock.
      cloud.control.clock.advance(2000);
      await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k3', Body: 'x' }));
    } finally {
      cloud.control.setThrottling(false);
    }
  });

  test('failNext: an injected 500 is InternalError; SDK retries recover from it', async (t) => {
    if (!cloud.control) return t.skip('needs the local cloud control: failNext');
    const b = await newBucket('fail');
    cloud.control.failNext('s3', 'PutObject', 1, 500);
    const p = s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'x' }));
    assert.equal(await errorCode(p), 'InternalError');
    assert.equal(await errorCode(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' }))), 'NotFound', 'the failed write stored nothing');

    const retrying = cloud.makeClients({ maxAttempts: 3 });
    try {
      cloud.control.failNext('s3', 'PutObject', 2, 500);
      const input: PutObjectCommandInput = { Bucket: b, Key: 'k', Body: 'x' };
      const out = await retrying.s3.send(new PutObjectCommand(input));
      assert.equal(out.$metadata.attempts, 3);
      cloud.control.failNext('s3', 'GetObject', 1, 503);
      const got = await retrying.s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' }));
      assert.equal((await bodyOf(got)).toString(), 'x');
      assert.equal(got.$metadata.attempts, 2);
    } finally {
      for (const c of Object.values(retrying)) c.destroy();
    }
    cloud.control.failNext('s3', 'GetObject', 1, 503);
    assert.equal(await errorCode(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' }))), 'ServiceUnavailable');
    assert.equal(cloud.control.calls()['s3:PutObject']! >= 4, true, 'calls are counted');
  });

  test('control: seed and read objects directly', async (t) => {
    if (!cloud.control) return t.skip('needs the local cloud control: S3 control methods');
    const b = name('control');
    cloud.control.s3.createBucket(b);
    assert.ok(cloud.control.s3.buckets().includes(b));
    const etag = cloud.control.s3.putObject(b, 'seeded', 'hello', { contentType: 'text/plain', metadata: { Role: 'web' } });
    assert.equal(etag, `"${md5(Buffer.from('hello'))}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'seeded' }));
    assert.equal((await bodyOf(got)).toString(), 'hello');
    assert.equal(got.ContentType, 'text/plain');
    assert.deepEqual(got.Metadata, { role: 'web' });
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'via-sdk', Body: Buffer.from([1, 2, 3]) }));
    assert.deepEqual(cloud.control.s3.getObject(b, 'via-sdk'), Buffer.from([1, 2, 3]));
    assert.equal(cloud.control.s3.getObject(b, 'absent'), undefined);
    const objs = cloud.control.s3.objects(b);
    assert.deepEqual(
      objs.map((o) => [o.key, o.size]),
      [
        ['seeded', 5],
        ['via-sdk', 3],
      ],
    );
    assert.ok(!Number.isNaN(Date.parse(objs[0]!.lastModified)));
    assert.equal(cloud.control.s3.deleteObject(b, 'seeded'), true);
    assert.equal(cloud.control.s3.deleteObject(b, 'seeded'), false);
  });
});
