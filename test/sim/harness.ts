/**
 * The cloud under test for the conformance suite: the in-process local cloud by default, or
 * any AWS-compatible endpoint named in FLEET_CONFORMANCE_ENDPOINT (e.g. a `fleet sim` in
 * another process, or another emulator), so the suite's claims can be checked elsewhere.
 * Tests that need fault knobs use the in-process control when there is one, the HTTP
 * control endpoint (/_sim/) when the endpoint is a fleet local cloud, and otherwise say
 * why they do not apply.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { EBSClient } from '@aws-sdk/client-ebs';
import { startLocalCloud, type LocalCloudControl, type LocalCloudOptions } from '../../src/sim/index.js';

export interface Clients {
  ec2: EC2Client;
  route53: Route53Client;
  s3: S3Client;
  ebs: EBSClient;
}

export interface CloudUnderTest {
  endpoint: string;
  /** In-process control; undefined against an external endpoint. */
  control: LocalCloudControl | undefined;
  /** True when the endpoint is a fleet local cloud (in-process or via FLEET_CONFORMANCE_ENDPOINT). */
  isLocalCloud: boolean;
  region: string;
  /** SDK clients with maxAttempts 1 so error paths are seen as they are (no SDK retries). */
  clients: Clients;
  /** Clients with the given SDK options (e.g. maxAttempts: 3 to exercise SDK retries). */
  makeClients(opts?: { maxAttempts?: number }): Clients;
  close(): Promise<void>;
}

export const EXTERNAL_ENDPOINT = process.env['FLEET_CONFORMANCE_ENDPOINT'];

export function makeClients(endpoint: string, region: string, opts: { maxAttempts?: number } = {}): Clients {
  const common = {
    endpoint,
    region,
    credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'local-cloud-secret' },
    maxAttempts: opts.maxAttempts ?? 1,
  };
  return {
    ec2: new EC2Client(common),
    route53: new Route53Client(common),
    s3: new S3Client({ ...common, forcePathStyle: true }),
    ebs: new EBSClient(common),
  };
}

export async function cloudUnderTest(options: LocalCloudOptions = {}): Promise<CloudUnderTest> {
  if (EXTERNAL_ENDPOINT) {
    const region = process.env['AWS_REGION'] ?? 'us-east-1';
    let isLocal = false;
    try {
      const r = await fetch(new URL('/_sim/health', EXTERNAL_ENDPOINT));
      isLocal = r.ok;
    } catch {
      isLocal = false;
    }
    const clients = makeClients(EXTERNAL_ENDPOINT, region);
    return {
      endpoint: EXTERNAL_ENDPOINT,
      control: undefined,
      isLocalCloud: isLocal,
      region,
      clients,
      makeClients: (o) => makeClients(EXTERNAL_ENDPOINT, region, o),
      close: async () => destroy(clients),
    };
  }
  const cloud = await startLocalCloud({ delays: { bootMs: 50, convergeMs: 100, dnsSyncMs: 100, shutdownMs: 50, snapshotMs: 100, attachMs: 20 }, ...options });
  const region = cloud.control.region;
  const clients = makeClients(cloud.endpoint, region);
  return {
    endpoint: cloud.endpoint,
    control: cloud.control,
    isLocalCloud: true,
    region,
    clients,
    makeClients: (o) => makeClients(cloud.endpoint, region, o),
    close: async () => {
      destroy(clients);
      await cloud.close();
    },
  };
}

function destroy(c: Clients): void {
  c.ec2.destroy();
  c.route53.destroy();
  c.s3.destroy();
  c.ebs.destroy();
}

/** POST to the HTTP control endpoint of a local cloud. */
export async function simControl(endpoint: string, path: string, body?: unknown, method = 'POST'): Promise<unknown> {
  const r = await fetch(new URL(`/_sim${path}`, endpoint), {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  const parsed = text ? JSON.parse(text) : undefined;
  if (!r.ok) throw new Error(`control ${path}: ${r.status} ${text}`);
  return parsed;
}

/** Wait until `check` returns a truthy value, polling; fails after `timeoutMs` real ms. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5000, everyMs = 20): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The AWS error code of a rejected SDK call (`name` in SDK v3), or fails the test. */
export async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    return e.name ?? e.Code ?? 'UnknownError';
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** The HTTP status of a rejected SDK call. */
export async function errorStatus(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  }
  throw new Error('expected the call to fail, but it succeeded');
}
