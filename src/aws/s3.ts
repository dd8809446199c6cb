/** S3 adapter: the journal bucket, state.s3 prefixes, and the policy: location (the masterfiles). */
import { CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand, type BucketLocationConstraint, type S3Client } from '@aws-sdk/client-s3';
import type { Blobs, BucketStatus, Journal, JournalEntry, ObjectStore, StoredObject } from '../ports.js';
import { journalStartAfter, OUTCOME_SUFFIX, parseJournalKey } from '../journal.js';
import { listKeys, putIfAbsent } from './records.js';
import { CloudError } from '../errors.js';
import { awsCode, cloudError, httpStatus } from './errors.js';

export function createS3Blobs(client: S3Client): Blobs {
  return {
    async bucketStatus(bucket: string): Promise<BucketStatus> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
        return 'yes';
      } catch (err) {
        const status = httpStatus(err);
        const code = awsCode(err);
        if (status === 404 || code === 'NotFound' || code === 'NoSuchBucket') return 'no';
        if (status === 403 || code === 'Forbidden') return 'foreign';
        // HEAD has no body: S3 says where the bucket is in a header only.
        const region = (err as { $response?: { headers?: Record<string, string | undefined> } }).$response?.headers?.['x-amz-bucket-region'];
        if (status === 301 && region) return { elsewhere: region };
        throw cloudError(`checking bucket ${bucket}`, err);
      }
    },
    async createBucket(bucket: string, region: string) {
      try {
        await client.send(
          new CreateBucketCommand({
            Bucket: bucket,
            // us-east-1 takes no LocationConstraint; every other region needs its own.
            ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
          }),
        );
      } catch (err) {
        // A concurrent init (or a retry) created it already: that is the goal state.
        if (awsCode(err) === 'BucketAlreadyOwnedByYou') return;
        throw cloudError(`creating bucket ${bucket}`, err);
      }
    },
  };
}

/** The journal: create-only objects (IfNoneMatch '*'); an existing key is never overwritten. */
export function createS3Journal(client: S3Client, bucket: string, prefix: string): Journal {
  const journal: Journal = {
    create(key: string, body: unknown): Promise<boolean> {
      const full = prefix ? `${prefix}/${key}` : key;
      return putIfAbsent(client, bucket, full, JSON.stringify(body, null, 2) + '\n', async () => (await journal.read(key)) !== undefined);
    },
    async read(key: string): Promise<unknown | undefined> {
      const full = prefix ? `${prefix}/${key}` : key;
      let text: string;
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full }));
        text = (await res.Body?.transformToString()) ?? '';
      } catch (err) {
        if (httpStatus(err) === 404 || awsCode(err) === 'NoSuchKey') return undefined;
        throw cloudError(`reading journal s3://${bucket}/${full}`, err);
      }
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new CloudError(`journal s3://${bucket}/${full} is not JSON`, 'MalformedJournalEntry');
      }
    },
    async list(opts: { fleet?: string; since?: Date; kind?: string } = {}): Promise<JournalEntry[]> {
      const base = prefix ? `${prefix}/` : '';
      const listPrefix = `${base}${opts.fleet ? `${opts.fleet}/` : ''}`;
      const startAfter = opts.fleet && opts.since ? `${base}${journalStartAfter(opts.fleet, opts.since)}` : undefined;
      const keys = (await listKeys(client, bucket, listPrefix, startAfter)).map((k) => k.slice(base.length));
      const present = new Set(keys);
      const since = opts.since?.toISOString();
      const wanted = keys.filter((k) => {
        const p = parseJournalKey(k);
        return p !== undefined && !p.outcome && (since === undefined || p.at >= since) && (opts.kind === undefined || p.kind === opts.kind);
      });
      wanted.sort();
      const out: JournalEntry[] = [];
      for (const key of wanted) {
        const body = await journal.read(key);
        if (body === undefined) continue; // deleted between the listing and the read
        const outcome = present.has(key + OUTCOME_SUFFIX) ? await journal.read(key + OUTCOME_SUFFIX) : undefined;
        out.push({ key, body, ...(outcome !== undefined ? { outcome } : {}) });
      }
      return out;
    },
  };
  return journal;
}

/**
 * Objects under a prefix (the ObjectStore port): the `policy:` location, listed with ETags and
 * written one object at a time by `fleet policy push`; a name's `state.s3` prefix, listed and
 * deleted in batches only by `fleet retire --delete-state`.
 */
export function createS3Objects(client: S3Client): ObjectStore {
  return {
    async list(bucket: string, prefix: string): Promise<StoredObject[]> {
      const out: StoredObject[] = [];
      let token: string | undefined;
      do {
        let res;
        try {
          res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
        } catch (err) {
          throw cloudError(`listing s3://${bucket}/${prefix}`, err);
        }
        for (const o of res.Contents ?? []) {
          if (o.Key !== undefined) out.push({ key: o.Key, etag: (o.ETag ?? '').replace(/^"|"$/g, ''), size: o.Size ?? 0 });
        }
        token = res.IsTruncated ? res.NextContinuationToken || undefined : undefined;
      } while (token);
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    async put(bucket: string, key: string, body: Uint8Array): Promise<void> {
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/octet-stream' }));
      } catch (err) {
        throw cloudError(`writing s3://${bucket}/${key}`, err);
      }
    },
    async delete(bucket: string, key: string): Promise<void> {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (err) {
        throw cloudError(`deleting s3://${bucket}/${key}`, err);
      }
    },
    async deleteMany(bucket: string, keys: string[]): Promise<number> {
      let deleted = 0;
      for (let i = 0; i < keys.length; i += 1000) {
        const chunk = keys.slice(i, i + 1000);
        let res;
        try {
          res = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: false } }));
        } catch (err) {
          throw cloudError(`deleting ${chunk.length} objects of s3://${bucket}`, err);
        }
        const failed = res.Errors ?? [];
        if (failed.length > 0) {
          throw new CloudError(`deleting s3://${bucket}/${failed[0]!.Key ?? '?'} (and ${failed.length - 1} more)`, failed[0]!.Code ?? 'UnknownError');
        }
        deleted += res.Deleted?.length ?? chunk.length;
      }
      return deleted;
    },
  };
}
