/**
 * The local cloud's HTTP front: one loopback listener that routes each request to a service
 * by the signing name in its SigV4 credential scope (exactly how one AWS_ENDPOINT_URL can
 * serve EC2, Route 53, S3 and EBS at once), applies the fault layer (throttling, injected 5xx,
 * call counting), and renders errors in the service's own wire protocol. Requests under
 * `/_sim/` without a signature go to the control endpoint.
 */
import { createServer, STATUS_CODES, validateHeaderName, validateHeaderValue, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
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

/**
 * Node's HTTP parser refuses request heads larger than this (431). The real endpoints take
 * large query strings (an EC2 GET with many filters), so the limit is well above Node's 16 KiB.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

export async function listen(deps: ServerDeps, port = 0, host = '127.0.0.1'): Promise<{ server: Server; endpoint: string }> {
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    handle(deps, req, res).catch((err) => {
      // Last resort: never crash, never an HTML page.
      if (!res.headersSent) {
        try {
          res.writeHead(500, { 'content-type': 'text/xml' });
          res.end(genericError('InternalError', `local cloud failure: ${String(err)}`, randomUUID()));
        } catch {
          res.destroy();
        }
      } else {
        res.destroy();
      }
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => clientError(deps, err, socket));
  // Idle keep-alive connections are kept for a minute (AWS endpoints and their load balancers
  // keep them 20 s and more), not Node's 5 s: a client in this same process (the tests, the
  // rehearsal) whose event loop is busy for seconds (parsing a page of 1,000 instances on a
  // starved CPU, seeding) otherwise reuses a pooled socket just as the server's timer closes
  // it, and the request dies with ECONNRESET. Clients see the hint (Keep-Alive: timeout=60)
  // and drop idle sockets a second before; close() ends every connection at once.
  server.keepAliveTimeout = 60_000;
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

/** What Node's parser refused, as HTTP status, AWS-style code and message (Node's own mapping of the errors). */
function parserRefusal(code: string | undefined): { status: number; code: string; message: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'RequestHeaderSectionTooLarge', message: `Your request header section exceeds the maximum allowed size (${MAX_HEADER_BYTES} bytes).` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'RequestEntityTooLarge', message: 'The chunk extensions of the request body are too large.' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'RequestTimeout', message: 'Your socket connection to the server was not read from or written to within the timeout period.' };
    default:
      return { status: 400, code: 'BadRequest', message: `The request could not be parsed as HTTP (${code ?? 'parse error'}).` };
  }
}

/**
 * A request Node's HTTP parser refused (invalid characters in the request line, a head over
 * MAX_HEADER_BYTES, broken chunked framing, ...): answered with an AWS error document in the
 * protocol of the service the request was signed for when its head can be read (from the bytes
 * the parser saw, or the request in flight), else in the generic shape; then the connection is
 * closed, as Node's default answer does.
 */
function clientError(deps: ServerDeps, err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
    socket.destroy();
    return;
  }
  // As Node's default handler: never write into a response that has started.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const requestId = randomUUID();
  const refusal = parserRefusal(err.code);
  let response: SimResponse;
  let method = 'GET';
  try {
    const head = headOf(err.rawPacket) ?? inFlightHead(inFlight);
    if (head) method = head.method;
    const scope = head ? signingScope(head.headers, head.query) : undefined;
    const svc = scope ? deps.services.get(scope.service) : undefined;
    if (head && scope && svc) {
      const sreq: SimRequest = { method: head.method, path: head.path, query: head.query, headers: head.headers, body: Buffer.alloc(0), service: scope.service, region: scope.region, requestId, memo: new Map() };
      response = svc.renderError(new AwsError(refusal.code, refusal.message, refusal.status), sreq);
    } else {
      response = { status: refusal.status, headers: { 'content-type': 'text/xml' }, body: genericError(refusal.code, refusal.message, requestId) };
    }
  } catch {
    response = { status: refusal.status, headers: { 'content-type': 'text/xml' }, body: genericError(refusal.code, refusal.message, requestId) };
  }
  const body = method === 'HEAD' ? Buffer.alloc(0) : Buffer.from(response.body ?? '');
  const lines = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? 'Error'}`];
  const headers: Record<string, string> = { ...(response.headers ?? {}), 'x-amzn-requestid': requestId, 'x-amz-request-id': requestId, date: new Date().toUTCString() };
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === 'content-length' || k.toLowerCase() === 'connection') continue;
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) continue;
    lines.push(`${k}: ${String(v).replace(/[^\t\x20-\x7e\x80-\xff]/g, '')}`);
  }
  lines.push(`content-length: ${method === 'HEAD' ? Buffer.byteLength(response.body ?? '') : body.length}`, 'connection: close');
  // end(), not destroy(): a half-close lets the answer reach the client even when it is still sending.
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]));
  setTimeout(() => socket.destroy(), 5_000).unref();
}

/** The head of a request as the parser received it (method, target, headers), if the bytes begin with a request line. */
function headOf(raw: Buffer | undefined): { method: string; path: string; query: URLSearchParams; headers: Record<string, string> } | undefined {
  if (!raw || raw.length === 0) return undefined;
  const text = raw.subarray(0, MAX_HEADER_BYTES * 2).toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const lines = (end < 0 ? text : text.slice(0, end)).split(/\r?\n/);
  // The target ends at a space (not at any \s: a raw 0xA0 byte, read as latin1, is U+00A0).
  const m = /^([A-Za-z]+) ([^ ]+)(?: HTTP\/\d\.\d)?$/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    if (c <= 0) continue;
    const k = line.slice(0, c).trim().toLowerCase();
    const v = line.slice(c + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]},${v}`;
  }
  const target = splitTarget(m[2]!);
  return { method: m[1]!.toUpperCase(), path: target.path, query: target.query, headers };
}

function inFlightHead(res: ServerResponse | undefined): { method: string; path: string; query: URLSearchParams; headers: Record<string, string> } | undefined {
  const req = res?.req;
  if (!req) return undefined;
  const target = splitTarget(req.url ?? '/');
  return { method: (req.method ?? 'GET').toUpperCase(), path: target.path, query: target.query, headers: headersOf(req) };
}

/**
 * The path and query of a request target, never throwing (a target like `//x` is not a URL
 * `new URL` accepts). `path` is raw, as the services want it (S3 keys may hold dot segments and
 * `//`); `pathname` is the URL-normalized path, for the control endpoint's routing. An
 * absolute-form target (`http://host/p?q`) is reduced to its path and query.
 */
export function splitTarget(rawTarget: string): { path: string; pathname: string; query: URLSearchParams } {
  let t = rawTarget;
  const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(t);
  if (abs) t = t.slice(abs[0].length);
  const q = t.indexOf('?');
  const path = (q < 0 ? t : t.slice(0, q)) || '/';
  let search = q < 0 ? '' : t.slice(q + 1);
  const hash = search.indexOf('#');
  if (hash >= 0) search = search.slice(0, hash);
  let pathname = path;
  try {
    pathname = new URL(`http://local${path.startsWith('/') ? '' : '/'}${path}`).pathname;
  } catch {
    // keep the raw path
  }
  return { path, pathname, query: new URLSearchParams(search) };
}

/** Request headers, lowercased, repeated ones joined; an object without a prototype, so no header name is special. */
function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  return headers;
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

const XML_ESCAPES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' };

/**
 * Characters XML 1.0 does not allow in a document (C0 controls but TAB, LF and CR; U+FFFE,
 * U+FFFF; unpaired surrogates), which no reference can carry either.
 */
const XML_FORBIDDEN_RE = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Escape for XML text and attribute values. Characters XML 1.0 forbids become U+FFFD, so the
 * document stays well-formed whatever a request carried (error messages echo request values).
 */
export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => XML_ESCAPES[c]!).replace(XML_FORBIDDEN_RE, '\ufffd');
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
  // Never `new URL(req.url, base)`: a target starting with `//` is a protocol-relative URL and throws.
  const target = splitTarget(req.url ?? '/');
  const headers = headersOf(req);
  const body = await readBody(req);
  if (body === undefined) {
    send(res, { status: 413, headers: { 'content-type': 'text/xml' }, body: genericError('RequestEntityTooLarge', `request body exceeds ${MAX_BODY_BYTES} bytes`, requestId) }, requestId);
    return;
  }
  const scope = signingScope(headers, target.query);

  if (!scope) {
    if (target.pathname.startsWith('/_sim/') || target.pathname === '/_sim') {
      await handleControl(deps, req.method ?? 'GET', target.pathname, target.query, body, res, requestId);
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
    path: target.path,
    query: target.query,
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
    const takes = [...(info.bucket ? [{ bucket: info.bucket, n: 1 }] : []), ...(info.alsoBuckets ?? [])];
    if (takes.length > 0 && deps.faults.takeAll(takes) !== undefined) {
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
  send(res, checkedHeaders(response, svc, sreq), requestId);
}

/**
 * A response whose header names and values Node can write; otherwise (a service let request
 * input into a header unchecked) the service's InternalError, so the answer keeps the
 * service's shape and the bug stays visible instead of tripping writeHead.
 */
function checkedHeaders(response: SimResponse, svc: ServiceModule, sreq: SimRequest): SimResponse {
  for (const [k, v] of Object.entries(response.headers ?? {})) {
    try {
      validateHeaderName(k);
      validateHeaderValue(k, v);
    } catch {
      return svc.renderError(new AwsError('InternalError', `local cloud failure: the response header ${JSON.stringify(k)} has a character a header cannot carry`, 500), sreq);
    }
  }
  return response;
}

async function handleControl(deps: ServerDeps, method: string, pathname: string, query: URLSearchParams, body: Buffer, res: ServerResponse, requestId: string): Promise<void> {
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
    const out = await deps.control(method.toUpperCase(), pathname.slice('/_sim'.length) || '/', query, parsed);
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
