/**
 * One SDK client per service, shared by every adapter (the SDK's retry quota is per client
 * instance; see DESIGN.md section 7). Built at the edge (CLI, Lambda entry) from plain options.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { EBSClient } from '@aws-sdk/client-ebs';

export interface AwsOptions {
  /** Undefined: the SDK's own resolution (AWS_REGION, profile). */
  region?: string;
  /** Undefined: the SDK's own resolution (AWS_ENDPOINT_URL, or AWS). */
  endpoint?: string;
  /** Static credentials; undefined: the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** SDK attempts per call, standard retry mode (default 5: throttling under load outlasts 3). */
  maxAttempts?: number;
}

export interface AwsClients {
  ec2: EC2Client;
  route53: Route53Client;
  s3: S3Client;
  ebs: EBSClient;
  destroy(): void;
}

export function createClients(opts: AwsOptions): AwsClients {
  const common = {
    ...(opts.region ? { region: opts.region } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    maxAttempts: opts.maxAttempts ?? 5,
    retryMode: 'standard' as const,
  };
  const ec2 = new EC2Client(common);
  const route53 = new Route53Client(common);
  // Path-style only for an explicit endpoint (local cloud, other emulators); AWS itself is virtual-hosted.
  const s3 = new S3Client({ ...common, ...(opts.endpoint ? { forcePathStyle: true } : {}) });
  const ebs = new EBSClient(common);
  return {
    ec2,
    route53,
    s3,
    ebs,
    destroy() {
      ec2.destroy();
      route53.destroy();
      s3.destroy();
      ebs.destroy();
    },
  };
}
