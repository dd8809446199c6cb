/**
 * Wiring at the edge: the only place (with the Lambda entry) that reads env and builds the
 * deps object from AWS clients and adapters. No container, no singletons.
 */
import { isAbsolute, resolve } from 'node:path';
import { createClients, type AwsClients } from '../aws/clients.js';
import { createEc2 } from '../aws/ec2.js';
import { createRoute53Dns } from '../aws/route53.js';
import { createS3Blobs, createS3Journal, createS3Objects } from '../aws/s3.js';
import { createEbsDirect } from '../aws/ebs.js';
import { InputError } from '../errors.js';
import type { FleetSpec } from '../model.js';
import type { Blobs, Catalog, Dns, Instances, Volumes, EbsDirect, Journal, ObjectStore } from '../ports.js';
import type { CliIo } from './io.js';

export interface GlobalOptions {
  config: string;
  json: boolean;
  endpoint?: string;
  region?: string;
}

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
  clients: AwsClients;
  /** Closed when the command ends (coordination sessions). */
  cleanup: (() => Promise<void>)[];
}

export function configPath(opts: GlobalOptions, io: CliIo): string {
  return isAbsolute(opts.config) ? opts.config : resolve(io.cwd, opts.config);
}

function isLoopback(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
  } catch {
    return false;
  }
}

/** The endpoint override: --endpoint, else AWS_ENDPOINT_URL; validated. */
export function endpointOf(opts: GlobalOptions, io: CliIo): string | undefined {
  const raw = opts.endpoint ?? io.env['AWS_ENDPOINT_URL'];
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError(`${opts.endpoint ? '--endpoint' : 'AWS_ENDPOINT_URL'} is not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InputError(`endpoint must be http(s): ${raw}`);
  return raw.replace(/\/+$/, '');
}

export function makeDeps(opts: GlobalOptions, spec: FleetSpec | undefined, io: CliIo): Deps {
  const endpoint = endpointOf(opts, io);
  const region = opts.region ?? spec?.region ?? io.env['AWS_REGION'] ?? io.env['AWS_DEFAULT_REGION'];
  const hasCreds = Boolean(io.env['AWS_ACCESS_KEY_ID'] || io.env['AWS_PROFILE'] || io.env['AWS_WEB_IDENTITY_TOKEN_FILE'] || io.env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] || io.env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']);
  // The local cloud accepts any signature: spare the newcomer from inventing credentials.
  const credentials = endpoint && isLoopback(endpoint) && !hasCreds ? { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'local-cloud' } : undefined;
  const clients = createClients({
    ...(region ? { region } : endpoint && isLoopback(endpoint) ? { region: 'us-east-1' } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials } : {}),
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
    clients,
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
