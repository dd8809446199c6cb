/**
 * The local cloud's HTTP front: one loopback listener that routes each request to a service
 * by the signing name in its SigV4 credential scope (exactly how one AWS_ENDPOINT_URL can
 * serve EC2, Route 53, S3 and EBS at once), applies the fault layer (throttling, injected 5xx,
 * call counting), and renders errors in the service's own wire protocol. Requests under
 * `/_sim/` without a signature go to the control endpoint.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { AwsError, type ServiceModule, type SimRequest, type SimResponse } from './types.js';
import type { Faults } from './faults.js';

/** Larger bodies are refused before they are read into memory. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export type ControlHandler = (method: string, path: string, query: URLSearchParams, body: unknown) => Promise<unknown> | unknown;

export interface ServerDeps {
  services: Map<string, ServiceModule>;
  faults: Faults;
  control: ControlHandler;
}

const CREDENTIAL_RE = /Credential=[^/,\s]+\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/;

/** Signing region and service from the Authorization header or a presigned URL's X-Amz-Credential. */
export function signingScope(headers: Record<string, string>, query: URLSearchParams): { region: string; service: string } | undefined {
  const auth = headers['authorization'];
  if (auth) {
    const m = CREDENTIAL_RE.exec(auth);
    if (m) return { region: m[1]!, service: m[2]! };
    return undefined;
  }
  const cred = query.get('X-Amz-Credential');
  if (cred) {
    const parts = cred.split('/');
    if (parts.length === 5 && parts[4] === 'aws4_request') return { region: parts[2]!, service: parts[3]! };
  }
  return undefined;
}

export async function listen(deps: ServerDeps, port = 0, host = '127.0.0.1'): Promise<{ server: Server; endpoint: string }> {
  const server = createServer((req, res) => {
    handle(deps, req, res).catch((err) => {
      // Last resort: never crash, never an HTML page.
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/xml' });
        res.end(genericError('InternalError', `local cloud failure: ${String(err)}`, randomUUID()));
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return { server, endpoint: `http://${host}:${addr.port}` };
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_BODY_BYTES) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function genericError(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function send(res: ServerResponse, r: SimResponse, requestId: string): void {
  const headers: Record<string, string> = { 'x-amzn-requestid': requestId, 'x-amz-request-id': requestId, ...(r.headers ?? {}) };
  const body = r.body ?? '';
  if (!('content-length' in headers)) headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(r.status, headers);
  res.end(body);
}

async function handle(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const url = new URL(req.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  const body = await readBody(req);
  if (body === undefined) {
    send(res, { status: 413, headers: { 'content-type': 'text/xml' }, body: genericError('RequestEntityTooLarge', `request body exceeds ${MAX_BODY_BYTES} bytes`, requestId) }, requestId);
    return;
  }
  const scope = signingScope(headers, url.searchParams);

  if (!scope) {
    if (url.pathname.startsWith('/_sim/') || url.pathname === '/_sim') {
      await handleControl(deps, req.method ?? 'GET', url, body, res, requestId);
      return;
    }
    send(res, { status: 403, headers: { 'content-type': 'text/xml' }, body: genericError('MissingAuthenticationToken', 'Request is missing Authentication Token', requestId) }, requestId);
    return;
  }

  const svc = deps.services.get(scope.service);
  if (!svc) {
    send(res, { status: 400, headers: { 'content-type': 'text/xml' }, body: genericError('UnrecognizedService', `the local cloud does not serve the service "${scope.service}"; it serves ${[...deps.services.keys()].join(', ')}`, requestId) }, requestId);
    return;
  }

  const sreq: SimRequest = {
    method: (req.method ?? 'GET').toUpperCase(),
    // The raw path: URL parsing would collapse dot segments, and `a/../b` is a valid S3 key.
    path: (req.url ?? '/').split('?')[0] || '/',
    query: url.searchParams,
    headers,
    body,
    service: scope.service,
    region: scope.region,
    requestId,
    memo: new Map(),
  };

  let response: SimResponse;
  try {
    const info = svc.action(sreq);
    const key = `${svc.service}:${info.action}`;
    deps.faults.countCall(key);
    const failure = deps.faults.takeFailure(svc.service, info.action);
    if (failure !== undefined) throw svc.serverError(failure);
    if (info.bucket && !deps.faults.take(info.bucket)) {
      deps.faults.countThrottle(key);
      throw svc.throttleError(info);
    }
    response = await svc.handle(sreq, info);
  } catch (err) {
    if (err instanceof AwsError) {
      response = svc.renderError(err, sreq);
    } else {
      response = svc.renderError(new AwsError('InternalError', `local cloud failure: ${err instanceof Error ? err.message : String(err)}`, 500), sreq);
    }
  }
  send(res, response, requestId);
}

async function handleControl(deps: ServerDeps, method: string, url: URL, body: Buffer, res: ServerResponse, requestId: string): Promise<void> {
  let parsed: unknown = undefined;
  if (body.length > 0) {
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      send(res, { status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'body is not valid JSON' }) }, requestId);
      return;
    }
  }
  try {
    const out = await deps.control(method.toUpperCase(), url.pathname.slice('/_sim'.length) || '/', url.searchParams, parsed);
    send(res, { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(out ?? { ok: true }) }, requestId);
  } catch (err) {
    const status = err instanceof ControlError ? err.status : err instanceof AwsError ? err.status : 500;
    const code = err instanceof AwsError ? { code: err.code } : {};
    send(res, { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: err instanceof Error ? err.message : String(err), ...code }) }, requestId);
  }
}

/** A control endpoint error with its HTTP status (400 bad request, 404 unknown command). */
export class ControlError extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.status = status;
  }
}
