/** S3 adapter: the journal bucket (and later, stateful exceptions). */
import { CreateBucketCommand, HeadBucketCommand, PutObjectCommand, type BucketLocationConstraint, type S3Client } from '@aws-sdk/client-s3';
import type { Blobs, Journal } from '../ports.js';
import { awsCode, cloudError, httpStatus } from './errors.js';

export function createS3Blobs(client: S3Client): Blobs {
  return {
    async bucketStatus(bucket: string) {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
        return 'yes';
      } catch (err) {
        const status = httpStatus(err);
        const code = awsCode(err);
        if (status === 404 || code === 'NotFound' || code === 'NoSuchBucket') return 'no';
        if (status === 403 || code === 'Forbidden') return 'foreign';
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
  return {
    async create(key: string, body: unknown): Promise<boolean> {
      const full = prefix ? `${prefix}/${key}` : key;
      try {
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: full, Body: JSON.stringify(body, null, 2) + '\n', ContentType: 'application/json', IfNoneMatch: '*' }),
        );
        return true;
      } catch (err) {
        const status = httpStatus(err);
        if (status === 412 || awsCode(err) === 'PreconditionFailed') return false;
        throw cloudError(`writing journal s3://${bucket}/${full}`, err);
      }
    },
  };
}
