/**
 * Wiring at the edge: the only place (with the Lambda entry) that reads env and builds the
 * deps object from AWS clients and adapters. No container, no singletons.
 */
import { createClients, type AwsClients } from '../aws/clients.js';
import { createEc2 } from '../aws/ec2.js';
import { createRoute53Dns } from '../aws/route53.js';
import { createS3Blobs, createS3Journal, createS3Objects } from '../aws/s3.js';
import { createS3Records } from '../aws/records.js';
import { createEbsDirect } from '../aws/ebs.js';
import { InputError } from '../errors.js';
import type { FleetSpec } from '../model.js';
import type { Blobs, Catalog, Dns, Instances, Volumes, EbsDirect, Journal, ObjectStore, Records } from '../ports.js';
import { checkEndpoint, checkRegion } from './flags.js';
import type { CliIo } from './io.js';
import { ThrottleFeed } from '../ops/limiter.js';
import type { GlobalOptions } from './paths.js';

export { configPath, type GlobalOptions } from './paths.js';

export interface Deps {
  region: string | undefined;
  endpoint: string | undefined;
  dns: Dns;
  instances: Instances;
  volumes: Volumes;
  catalog: Catalog;
  blobs: Blobs;
  /** S3 objects under a prefix: the policy: location, the names' state.s3 prefixes. */
  objects: ObjectStore;
  /** The EBS direct API (verifying snapshots before a volume moves across AZs). */
  ebs: EbsDirect;
  /** The journal under `s3://bucket/prefix`. */
  journal(bucket: string, prefix: string): Journal;
  /** Create-only JSON records under a bucket's prefix (pool memory, event markers). */
  records(bucket: string, prefix: string): Records;
  clients: AwsClients;
  /** Every throttle the clients met, relayed to the command's rate limiters (ops/limiter.ts). */
  throttles: ThrottleFeed;
  /** Closed when the command ends (coordination sessions). */
  cleanup: (() => Promise<void>)[];
}

function isLoopback(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
  } catch {
    return false;
  }
}

/** The endpoint override: --endpoint, else AWS_ENDPOINT_URL; validated (flags.ts). */
export function endpointOf(opts: GlobalOptions, io: CliIo): string | undefined {
  return checkEndpoint(opts.endpoint, io.env['AWS_ENDPOINT_URL']);
}

/** The region and where it came from, validated: a bad one is bad input, not an UnknownError from the SDK. */
function regionOf(opts: GlobalOptions, spec: FleetSpec | undefined, io: CliIo): string | undefined {
  const sources: [string, string | undefined][] = [
    ['--region', opts.region],
    ['fleet.yaml region', spec?.region],
    ['AWS_REGION', io.env['AWS_REGION'] || undefined],
    ['AWS_DEFAULT_REGION', io.env['AWS_DEFAULT_REGION'] || undefined],
  ];
  const found = sources.find(([, v]) => v !== undefined);
  return found ? checkRegion(found[0], found[1]!) : undefined;
}

export function makeDeps(opts: GlobalOptions, spec: FleetSpec | undefined, io: CliIo): Deps {
  const endpoint = endpointOf(opts, io);
  const region = regionOf(opts, spec, io);
  const hasCreds = Boolean(io.env['AWS_ACCESS_KEY_ID'] || io.env['AWS_PROFILE'] || io.env['AWS_WEB_IDENTITY_TOKEN_FILE'] || io.env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] || io.env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']);
  // The local cloud accepts any signature: spare the newcomer from inventing credentials.
  const credentials = endpoint && isLoopback(endpoint) && !hasCreds ? { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'local-cloud' } : undefined;
  const throttles = new ThrottleFeed();
  const clients = createClients({
    ...(region ? { region } : endpoint && isLoopback(endpoint) ? { region: 'us-east-1' } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    onThrottle: (service, command) => throttles.report(service, command),
  });
  return {
    region: region ?? (endpoint && isLoopback(endpoint) ? 'us-east-1' : undefined),
    endpoint,
    dns: createRoute53Dns(clients.route53),
    ...createEc2(clients.ec2),
    blobs: createS3Blobs(clients.s3),
    objects: createS3Objects(clients.s3),
    ebs: createEbsDirect(clients.ebs),
    journal: (bucket, prefix) => createS3Journal(clients.s3, bucket, prefix),
    records: (bucket, prefix) => createS3Records(clients.s3, bucket, prefix),
    clients,
    throttles,
    cleanup: [],
  };
}

/** The region a command needs to know itself (bucket location); the SDK's own resolution otherwise. */
export async function resolvedRegion(deps: Deps): Promise<string> {
  if (deps.region) return deps.region;
  try {
    return await deps.clients.s3.config.region();
  } catch {
    throw new InputError('no AWS region: set region in fleet.yaml, or AWS_REGION, or a profile with a region');
  }
}
