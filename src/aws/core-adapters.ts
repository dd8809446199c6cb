/**
 * The adapters a Lambda needs (EC2, Route 53, S3: no EBS), from plain options: the Lambda
 * entry's one door to the SDK, so that the bundle carries three clients, not four. One client
 * per service, shared by every adapter (the SDK's retry quota is per client instance).
 */
import { createCoreClients, type AwsOptions } from './clients.js';
import type { Catalog, Dns, Instances, Journal, Records, Volumes } from '../ports.js';
import { createEc2 } from './ec2.js';
import { createRoute53Dns } from './route53.js';
import { createS3Journal } from './s3.js';
import { createS3Records } from './records.js';

export interface CoreAdapters {
  instances: Instances;
  volumes: Volumes;
  catalog: Catalog;
  dns: Dns;
  journal(bucket: string, prefix: string): Journal;
  records(bucket: string, prefix: string): Records;
  destroy(): void;
}

export function createCoreAdapters(opts: Pick<AwsOptions, 'region' | 'endpoint' | 'maxAttempts' | 'onThrottle'>): CoreAdapters {
  // Every call bounded (attempt timeouts, a deadline per call) as the CLI's clients are.
  const { ec2, route53, s3, destroy } = createCoreClients(opts);
  return {
    ...createEc2(ec2),
    dns: createRoute53Dns(route53),
    journal: (bucket, prefix) => createS3Journal(s3, bucket, prefix),
    records: (bucket, prefix) => createS3Records(s3, bucket, prefix),
    destroy,
  };
}
