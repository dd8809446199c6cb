/**
 * The adapters a Lambda needs (EC2, Route 53, S3: no EBS), from plain options: the Lambda
 * entry's one door to the SDK, so that the bundle carries three clients, not four. One client
 * per service, shared by every adapter (the SDK's retry quota is per client instance).
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import type { Compute, Dns, Journal, Records } from '../ports.js';
import { createEc2Compute } from './ec2.js';
import { createRoute53Dns } from './route53.js';
import { createS3Journal } from './s3.js';
import { createS3Records } from './records.js';

export interface CoreAdapters {
  compute: Compute;
  dns: Dns;
  journal(bucket: string, prefix: string): Journal;
  records(bucket: string, prefix: string): Records;
  destroy(): void;
}

export function createCoreAdapters(opts: { region?: string; endpoint?: string; maxAttempts?: number }): CoreAdapters {
  const common = {
    ...(opts.region ? { region: opts.region } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    maxAttempts: opts.maxAttempts ?? 5,
    retryMode: 'standard' as const,
  };
  const ec2 = new EC2Client(common);
  const route53 = new Route53Client(common);
  // Path-style only for an explicit endpoint (a local cloud); AWS itself is virtual-hosted.
  const s3 = new S3Client({ ...common, ...(opts.endpoint ? { forcePathStyle: true } : {}) });
  return {
    compute: createEc2Compute(ec2),
    dns: createRoute53Dns(route53),
    journal: (bucket, prefix) => createS3Journal(s3, bucket, prefix),
    records: (bucket, prefix) => createS3Records(s3, bucket, prefix),
    destroy() {
      ec2.destroy();
      route53.destroy();
      s3.destroy();
    },
  };
}
