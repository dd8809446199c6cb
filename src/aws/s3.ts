/** S3 adapter: the journal bucket (and later, stateful exceptions). */
import { CreateBucketCommand, HeadBucketCommand, type BucketLocationConstraint, type S3Client } from '@aws-sdk/client-s3';
import type { Blobs } from '../ports.js';
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
