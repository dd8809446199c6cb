/**
 * One SDK client per service, shared by every adapter (the SDK's retry quota is per client
 * instance; see DESIGN.md section 7). Built at the edge (CLI, Lambda entry) from plain options.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
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
  /** Per attempt: establishing the TCP (and TLS) connection (default 5 s). */
  connectionTimeoutMs?: number;
  /** Per attempt: from sending the request to the whole response (default 10 s). */
  requestTimeoutMs?: number;
  /**
   * Per call, retries and their backoff included (default 20 s): an endpoint that accepts
   * connections and never answers is a failure naming the endpoint within this, never a hang.
   */
  deadlineMs?: number;
  /**
   * Told of every attempt AWS throttled (before the SDK retries it), with the service and the
   * command: the edge relays it to the run's rate limiters, which re-sync to AWS's bucket.
   */
  onThrottle?: (service: string, command: string) => void;
}

/**
 * AWS's throttling error codes, across the services fleet calls: those the SDK's standard
 * retry classifies as throttling (PriorRequestNotComplete included: Route 53's zone is still
 * applying a change; a pause on the Route 53 bucket is the right answer to it too).
 */
const THROTTLE_CODES: ReadonlySet<string> = new Set([
  'RequestLimitExceeded',
  'RequestResourceCountExceeded',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'PriorRequestNotComplete',
]);

function isThrottle(err: unknown): boolean {
  const e = err as { name?: unknown; Code?: unknown; $fault?: unknown } | undefined;
  if (typeof e !== 'object' || e === null) return false;
  const code = typeof e.Code === 'string' ? e.Code : e.$fault !== undefined && typeof e.name === 'string' ? e.name : undefined;
  return code !== undefined && THROTTLE_CODES.has(code);
}

/** The defaults: every attempt is bounded, and so is every call with its retries (DESIGN.md section 6). */
export const AWS_TIMEOUTS = { connectionTimeoutMs: 5_000, requestTimeoutMs: 10_000, deadlineMs: 20_000 } as const;

/**
 * An AWS call that got no answer in time: the attempt's connection or response timeout, or
 * the call's deadline. Carries the endpoint it waited on, for the message (src/aws/errors.ts).
 */
export class AwsTimeoutError extends Error {
  readonly endpoint: string;
  readonly operation: string;
  constructor(endpoint: string, operation: string, detail: string, cause?: unknown) {
    super(`${endpoint} did not answer ${operation}: ${detail}`, cause === undefined ? undefined : { cause });
    this.name = 'AwsTimeoutError';
    this.endpoint = endpoint;
    this.operation = operation;
  }
}

interface HttpRequestLike {
  protocol?: string;
  hostname?: string;
  port?: number;
  path?: string;
}

/** The SDK's timeout errors: the handler's connection and request timeouts (name TimeoutError, or ETIMEDOUT). */
function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | undefined;
  return e?.name === 'TimeoutError' || e?.code === 'ETIMEDOUT';
}

/** The deadline of the call in progress, seen by the request handler of each of its attempts. */
const callSignal = new AsyncLocalStorage<AbortSignal>();

interface BoundableClient {
  middlewareStack: { add: (mw: never, opts: object) => void };
  config: { requestHandler?: unknown };
}

/**
 * Bound every call of `client`: a deadline over the whole call (retries and their backoff
 * included), and every timeout turned into an AwsTimeoutError naming the endpoint.
 *
 * - A middleware at the start of the initialize step owns the deadline: an AbortController
 *   that fires after `deadlineMs`, made visible to the attempts through AsyncLocalStorage
 *   (the SDK hands the request handler only the options given to `send`, which our adapters
 *   do not pass), and a race, so that a retry's backoff does not outlast the deadline either.
 * - The request handler's `handle` is wrapped to abort each attempt on that signal (and on
 *   the caller's own abortSignal, when one was given): an aborted call leaves no socket and no
 *   retry behind.
 * - A middleware in the finalize step (inside the retry loop, after the endpoint is resolved)
 *   records where the attempt went, for the message; another reports a throttled attempt
 *   (reportThrottles).
 */
function bound(client: BoundableClient, service: string, fallbackEndpoint: string, deadlineMs: number, onThrottle?: AwsOptions['onThrottle']): void {
  const handler = client.config.requestHandler as { handle?: (req: unknown, opts?: { abortSignal?: AbortSignal }) => Promise<unknown> } | undefined;
  if (!handler || typeof handler.handle !== 'function') throw new Error(`${service} client: no request handler to bound (SDK changed?)`);
  const handle = handler.handle.bind(handler);
  handler.handle = (req, opts = {}) => {
    const deadline = callSignal.getStore();
    if (!deadline) return handle(req, opts);
    return handle(req, { ...opts, abortSignal: opts.abortSignal ? AbortSignal.any([opts.abortSignal, deadline]) : deadline });
  };
  const where = new WeakMap<object, string>();
  const finalize = (next: (args: unknown) => Promise<unknown>, context: object) => async (args: { request?: HttpRequestLike }) => {
    const r = args.request;
    if (r?.hostname) where.set(context, `${r.protocol ?? 'https:'}//${r.hostname}${r.port ? `:${r.port}` : ''}`);
    return next(args);
  };
  const initialize = (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
    const operation = `${service} ${(context.commandName ?? 'call').replace(/Command$/, '')}`;
    const endpoint = () => where.get(context) ?? fallbackEndpoint;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new AwsTimeoutError(endpoint(), operation, `no answer within ${Math.round(deadlineMs / 1000)} s (deadline, retries included)`);
        controller.abort(err);
        reject(err);
      }, deadlineMs);
    });
    try {
      return await Promise.race([callSignal.run(controller.signal, () => next(args)), deadline]);
    } catch (err) {
      if (controller.signal.aborted) throw controller.signal.reason;
      if (err instanceof AwsTimeoutError || !isTimeout(err)) throw err;
      throw new AwsTimeoutError(endpoint(), operation, err instanceof Error ? err.message : String(err), err);
    } finally {
      clearTimeout(timer);
    }
  };
  client.middlewareStack.add(finalize as never, { step: 'finalizeRequest', priority: 'low', name: 'fleetEndpointOfAttempt' });
  client.middlewareStack.add(initialize as never, { step: 'initialize', priority: 'high', name: 'fleetCallDeadline' });
  if (onThrottle) reportThrottles(client, service, onThrottle);
}

/**
 * Tell `onThrottle` of every attempt of `client` that AWS throttled, with the service and the
 * command, before the SDK retries it: a middleware in the finalize step, inside the retry loop.
 */
export function reportThrottles(client: { middlewareStack: { add: (mw: never, opts: object) => void } }, service: string, onThrottle: (service: string, command: string) => void): void {
  const mw = (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
    try {
      return await next(args);
    } catch (err) {
      if (isThrottle(err)) onThrottle(service, (context.commandName ?? '').replace(/Command$/, ''));
      throw err;
    }
  };
  client.middlewareStack.add(mw as never, { step: 'finalizeRequest', priority: 'low', name: 'fleetReportThrottles' });
}

export interface AwsClients {
  ec2: EC2Client;
  route53: Route53Client;
  s3: S3Client;
  ebs: EBSClient;
  destroy(): void;
}

/** The SDK options every client shares: region, endpoint, retries, and bounded attempts. */
function commonOptions(opts: AwsOptions) {
  return {
    ...(opts.region ? { region: opts.region } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    maxAttempts: opts.maxAttempts ?? 5,
    retryMode: 'standard' as const,
    // The SDK's NodeHttpHandler options, given as a plain object (the SDK builds the handler):
    // without them an attempt waits as long as the peer keeps the connection open.
    requestHandler: {
      connectionTimeout: opts.connectionTimeoutMs ?? AWS_TIMEOUTS.connectionTimeoutMs,
      requestTimeout: opts.requestTimeoutMs ?? AWS_TIMEOUTS.requestTimeoutMs,
      // Without this the handler only logs a warning when requestTimeout passes.
      throwOnRequestTimeout: true,
    },
  };
}

/**
 * EC2, Route 53 and S3 only, bounded as createClients bounds them: what the spot handler's
 * Lambda needs (its bundle then carries no EBS client).
 */
export function createCoreClients(opts: AwsOptions): Omit<AwsClients, 'ebs'> {
  const common = commonOptions(opts);
  const deadlineMs = opts.deadlineMs ?? AWS_TIMEOUTS.deadlineMs;
  const at = (service: string) => opts.endpoint ?? `the AWS ${service} endpoint${opts.region ? ` in ${opts.region}` : ''}`;
  const ec2 = new EC2Client(common);
  bound(ec2, 'EC2', at('EC2'), deadlineMs, opts.onThrottle);
  const route53 = new Route53Client(common);
  bound(route53, 'Route 53', at('Route 53'), deadlineMs, opts.onThrottle);
  // Path-style only for an explicit endpoint (local cloud, other emulators); AWS itself is virtual-hosted.
  const s3 = new S3Client({ ...common, ...(opts.endpoint ? { forcePathStyle: true } : {}) });
  bound(s3, 'S3', at('S3'), deadlineMs, opts.onThrottle);
  return {
    ec2,
    route53,
    s3,
    destroy() {
      ec2.destroy();
      route53.destroy();
      s3.destroy();
    },
  };
}

export function createClients(opts: AwsOptions): AwsClients {
  const core = createCoreClients(opts);
  const ebs = new EBSClient(commonOptions(opts));
  bound(ebs, 'EBS', opts.endpoint ?? `the AWS EBS endpoint${opts.region ? ` in ${opts.region}` : ''}`, opts.deadlineMs ?? AWS_TIMEOUTS.deadlineMs, opts.onThrottle);
  return {
    ...core,
    ebs,
    destroy() {
      core.destroy();
      ebs.destroy();
    },
  };
}
