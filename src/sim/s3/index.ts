/**
 * The S3 service of the local cloud: REST-XML, path-style (`/bucket/key`), signing name `s3`.
 *
 * Buckets: CreateBucket (name rules, LocationConstraint rules per endpoint Region, the
 * us-east-1 "already owned = 200" legacy), HeadBucket, DeleteBucket, ListBuckets,
 * GetBucketLocation, GetBucketVersioning (always unversioned). A bucket lives in one Region;
 * a request signed for another Region gets 301 PermanentRedirect with x-amz-bucket-region,
 * which the SDK follows when followRegionRedirects is on.
 *
 * Objects: PutObject (Content-MD5, x-amz-content-sha256, flexible checksums in a header or an
 * aws-chunked trailer, metadata, If-None-Match: * and If-Match conditional writes, the
 * 409 ConditionalRequestConflict knob), GetObject / HeadObject (Range, conditional reads,
 * ChecksumMode), DeleteObject (idempotent, If-Match), DeleteObjects, ListObjectsV2 and
 * ListObjects (prefix, delimiter, max-keys, continuation token / start-after / marker,
 * encoding-type=url) over a sorted index, so listing N keys in pages is linear.
 *
 * Errors are S3's XML `<Error>` with Key / BucketName where S3 puts them, RequestId and HostId;
 * HEAD errors have no body. Unsupported subresources (?acl, ?tagging, multipart, ...) answer
 * 501 NotImplemented.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AwsError, type ActionInfo, type ServiceModule, type SimContext, type SimRequest, type SimResponse } from '../types.js';
import { CHECKSUM_HEADERS, DIGEST_BYTES, UNSUPPORTED_CHECKSUMS, checksum, headerName, isBase64Of, type ChecksumAlgorithm } from './checksums.js';
import { decodeAwsChunked } from './chunked.js';
import { SortedKeys, compareUtf8, type Cursor } from './sorted.js';
import { XmlSyntaxError, child, childrenNamed, parseXml, type XmlElement } from './xml.js';

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
const MAX_KEY_BYTES = 1024;
const MAX_METADATA_BYTES = 2048;
const MAX_LIST_KEYS = 1000;
const MAX_DELETE_OBJECTS = 1000;
const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

/** Regions a LocationConstraint may name (plus the endpoint's own Region). */
const KNOWN_REGIONS = new Set([
  'af-south-1', 'ap-east-1', 'ap-east-2', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-south-1', 'ap-south-2',
  'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7',
  'ca-central-1', 'ca-west-1', 'cn-north-1', 'cn-northwest-1', 'eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1',
  'eu-south-2', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'il-central-1', 'me-central-1', 'me-south-1', 'mx-central-1',
  'sa-east-1', 'us-east-1', 'us-east-2', 'us-gov-east-1', 'us-gov-west-1', 'us-west-1', 'us-west-2',
]);

const STORAGE_CLASSES = new Set([
  'STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'DEEP_ARCHIVE',
  'OUTPOSTS', 'GLACIER_IR', 'SNOW', 'EXPRESS_ONEZONE', 'FSX_OPENZFS', 'FSX_ONTAP',
]);
const ARCHIVED_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/** Query parameters that select a subresource (a different operation) in S3's REST API. */
const SUBRESOURCES = [
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'delete', 'encryption', 'intelligent-tiering', 'inventory',
  'legal-hold', 'lifecycle', 'location', 'logging', 'metadataConfiguration', 'metadataInventoryTable', 'metadataJournalTable',
  'metadataTable', 'metrics', 'notification', 'object-lock', 'ownershipControls', 'partNumber', 'policy', 'policyStatus',
  'publicAccessBlock', 'renameObject', 'replication', 'requestPayment', 'restore', 'retention', 'select', 'session',
  'tagging', 'torrent', 'uploadId', 'uploads', 'versioning', 'versions', 'website', 'abac',
];

/** Headers of an object that S3 stores and returns as sent. */
const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-language', 'expires', 'x-amz-website-redirect-location'];

/** GetObject query overrides of response headers. */
const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
  'response-content-language': 'content-language',
  'response-content-type': 'content-type',
  'response-expires': 'expires',
};

interface StoredObject {
  key: string;
  body: Buffer;
  /** Quoted MD5 hex, as S3 sends it. */
  etag: string;
  /** Epoch ms, whole seconds (S3's precision). */
  lastModified: number;
  contentType: string;
  contentEncoding: string | undefined;
  /** Other stored headers (cache-control, content-disposition, ...). */
  headers: Record<string, string>;
  /** User metadata, names lowercased without the x-amz-meta- prefix. */
  metadata: Record<string, string>;
  checksumAlgorithm: ChecksumAlgorithm;
  checksumValue: string;
  storageClass: string;
  sse: string;
  tagCount: number;
}

interface Bucket {
  name: string;
  region: string;
  created: number;
  objects: Map<string, StoredObject>;
  index: SortedKeys;
}

/** Plain-data view of an object for tests. */
export interface S3ObjectInfo {
  key: string;
  size: number;
  /** Quoted MD5 hex, as S3 returns it. */
  etag: string;
  /** ISO time. */
  lastModified: string;
  contentType: string;
  metadata: Record<string, string>;
}

export interface S3Control {
  /** Bucket names, sorted. */
  buckets(): string[];
  /** Create a bucket directly (seeding); `region` defaults to the cloud's Region. No-op if it exists. */
  createBucket(name: string, region?: string): void;
  /** Objects of a bucket in key order (throws for an unknown bucket). */
  objects(bucket: string): S3ObjectInfo[];
  /** An object's bytes, or undefined when the bucket or key does not exist. */
  getObject(bucket: string, key: string): Buffer | undefined;
  /** Seed an object (the bucket must exist). Returns the ETag. */
  putObject(bucket: string, key: string, body: Buffer | string, opts?: { contentType?: string; metadata?: Record<string, string> }): string;
  /** Delete an object directly; true when it existed. */
  deleteObject(bucket: string, key: string): boolean;
  /**
   * The next `n` conditional writes (PutObject / DeleteObject with If-Match or If-None-Match) to
   * this key answer 409 ConditionalRequestConflict, as S3 does when a conflicting operation races
   * the conditional request.
   */
  conflictNext(bucket: string, key: string, n?: number): void;
}

export interface S3Service extends ServiceModule {
  readonly control: S3Control;
}

/** An S3 error that also carries response headers (x-amz-bucket-region, Content-Range). */
class S3Error extends AwsError {
  readonly headers: Record<string, string>;
  constructor(code: string, message: string, status: number, fields: Record<string, string> = {}, headers: Record<string, string> = {}) {
    super(code, message, status, fields);
    this.headers = headers;
  }
}

interface Target {
  bucket: string | undefined;
  key: string | undefined;
}

/**
 * Escape for XML text. Characters XML 1.0 does not allow raw (C0 controls, U+FFFE, U+FFFF) and
 * CR become hexadecimal character references, as S3 writes them in listings and error
 * documents (`&#x1;`; the AWS SDKs decode them, so such keys round-trip), and an unpaired
 * surrogate, which no UTF-8 document can carry, becomes U+FFFD: the raw text of the document is
 * only ever characters XML 1.0 allows.
 */
function esc(s: string): string {
  return s.replace(/[<>&'"\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => {
    switch (c) {
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '&':
        return '&amp;';
      case "'":
        return '&apos;';
      case '"':
        return '&quot;';
      default: {
        const code = c.charCodeAt(0);
        return code >= 0xd800 && code <= 0xdfff ? '\ufffd' : `&#x${code.toString(16)};`;
      }
    }
  });
}

function el(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  return `<${name}>${esc(String(value))}</${name}>`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

function hostId(): string {
  return randomBytes(48).toString('base64');
}

function xmlResponse(body: string, status = 200, headers: Record<string, string> = {}): SimResponse {
  return { status, headers: { 'content-type': 'application/xml', ...headers }, body: XML_DECL + body };
}

function invalidArgument(message: string, name: string, value: string | undefined): AwsError {
  const fields: Record<string, string> = { ArgumentName: name };
  if (value !== undefined) fields['ArgumentValue'] = value;
  return new AwsError('InvalidArgument', message, 400, fields);
}

/** General purpose bucket naming rules (for CreateBucket). */
export function isValidBucketName(name: string): boolean {
  if (name.length < 3 || name.length > 63) return false;
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) return false;
  if (name.includes('..')) return false;
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return false;
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name)) return false;
  if (/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name)) return false;
  return true;
}

/** Names legacy buckets may have: anything else cannot exist, so it is InvalidBucketName. */
function isLegacyBucketName(name: string): boolean {
  return /^[A-Za-z0-9._-]{3,255}$/.test(name);
}

function normalizeEtag(s: string): string {
  let t = s.trim();
  if (t.startsWith('W/')) t = t.slice(2);
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) t = t.slice(1, -1);
  return t;
}

/** Whether an If-Match / If-None-Match value (a list, or *) matches `etag`. */
function etagMatches(header: string, etag: string): boolean {
  const want = normalizeEtag(etag);
  for (const part of header.split(',')) {
    const t = part.trim();
    if (t === '*') return true;
    if (t !== '' && normalizeEtag(t) === want) return true;
  }
  return false;
}

function parseHttpDate(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

type RangeResult = { start: number; end: number } | 'unsatisfiable' | undefined;

/** A single `bytes=` range as S3 honours it; anything it ignores (syntax errors, multiple ranges) is undefined. */
function parseRange(h: string | undefined, size: number): RangeResult {
  if (h === undefined) return undefined;
  const m = /^\s*bytes=(\d*)-(\d*)\s*$/.exec(h);
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (b !== '' && Number(b) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  return { start, end };
}

/** encoding-type=url: keys as S3 encodes them (form encoding, `/` kept). */
function urlEncodeKey(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, '+').replace(/%2F/g, '/').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * A metadata value as S3 stores it: RFC 2047 encoded words (`=?UTF-8?B?...?=`) are decoded, and
 * raw non-ASCII bytes (which arrive latin1-decoded) are read as UTF-8.
 */
function decodeMetaValue(v: string): string {
  const m = /^=\?UTF-8\?([BbQq])\?(.*)\?=$/.exec(v.trim());
  if (m) {
    if (m[1]!.toUpperCase() === 'B') return Buffer.from(m[2]!, 'base64').toString('utf8');
    const bytes = m[2]!.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  if (!/[^\x00-\x7f]/.test(v)) return v;
  const utf8 = Buffer.from(v, 'latin1').toString('utf8');
  return utf8.includes('\ufffd') ? v : utf8;
}

/**
 * A metadata value as S3 returns it: values with non-ASCII characters RFC 2047 encoded, so
 * headers stay ASCII; so are values with characters no header can carry (control characters
 * an encoded word decoded to at PUT), so a stored object is always readable.
 */
function encodeMetaValue(v: string): string {
  return /[^\t\x20-\x7e]/.test(v) ? `=?UTF-8?B?${Buffer.from(v, 'utf8').toString('base64')}?=` : v;
}

/**
 * Why a response-* override value cannot be a header value (S3 answers InvalidArgument), or
 * undefined when it can: a header carries ISO-8859-1 text without control characters.
 */
function overrideProblem(v: string): string | undefined {
  if (/[^\t\x20-\x7e\x80-\xff]/.test(v.replace(/[\u0100-\uffff]/g, ''))) return 'Header value contains a character that is not allowed in a header (a control character).';
  if (/[\u0100-\uffff]/.test(v)) return 'Header value cannot be represented using ISO-8859-1.';
  return undefined;
}

function md5Hex(b: Uint8Array): string {
  return createHash('md5').update(b).digest('hex');
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

interface Body {
  data: Buffer;
  /** The checksum the client sent (header or trailer), verified. */
  checksum: { algorithm: ChecksumAlgorithm; value: string } | undefined;
  /** Content-Encoding without aws-chunked. */
  contentEncoding: string | undefined;
}

export function createS3(ctx: SimContext): S3Service {
  const buckets = new Map<string, Bucket>();
  /** `bucket\0key` -> conditional writes left to answer 409. */
  const conflicts = new Map<string, number>();
  const ownerId = createHash('sha256').update(`fleet-local-cloud:${ctx.account}`).digest('hex');

  const now = (): number => Math.floor(ctx.clock.now() / 1000) * 1000;

  // ---------------------------------------------------------------- request parsing

  function target(req: SimRequest): Target {
    const cached = req.memo.get('s3:target') as Target | undefined;
    if (cached) return cached;
    const path = req.path;
    if (!path.startsWith('/')) throw new AwsError('InvalidURI', "Couldn't parse the specified URI.", 400);
    const slash = path.indexOf('/', 1);
    const rawBucket = slash < 0 ? path.slice(1) : path.slice(1, slash);
    const rawKey = slash < 0 ? '' : path.slice(slash + 1);
    let t: Target;
    try {
      t = { bucket: rawBucket === '' ? undefined : decodeURIComponent(rawBucket), key: rawKey === '' ? undefined : decodeURIComponent(rawKey) };
    } catch {
      throw new AwsError('InvalidURI', "Couldn't parse the specified URI.", 400);
    }
    if (t.bucket === undefined && t.key !== undefined) throw new AwsError('InvalidURI', "Couldn't parse the specified URI.", 400);
    req.memo.set('s3:target', t);
    return t;
  }

  function subresource(q: URLSearchParams): string | undefined {
    for (const s of SUBRESOURCES) if (q.has(s)) return s;
    return undefined;
  }

  function notImplemented(what: string): AwsError {
    return new AwsError('NotImplemented', `A header or query you provided implies functionality that is not implemented: the local cloud does not implement ${what}`, 501);
  }

  function methodNotAllowed(method: string, resource: string): AwsError {
    return new AwsError('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405, { Method: method, ResourceType: resource });
  }

  function actionOf(req: SimRequest): string {
    const t = target(req);
    const m = req.method;
    const q = req.query;
    const sub = subresource(q);
    if (t.bucket === undefined) {
      if (m === 'GET' && sub === undefined) return 'ListBuckets';
      if (m === 'GET') throw notImplemented(`GET /?${sub}`);
      throw methodNotAllowed(m, 'SERVICE');
    }
    if (t.key === undefined) {
      switch (m) {
        case 'GET':
          if (sub === undefined) return q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
          if (sub === 'location') return 'GetBucketLocation';
          if (sub === 'versioning') return 'GetBucketVersioning';
          throw notImplemented(`GET /{bucket}?${sub}`);
        case 'HEAD':
          return 'HeadBucket';
        case 'PUT':
          if (sub === undefined) return 'CreateBucket';
          throw notImplemented(`PUT /{bucket}?${sub}`);
        case 'DELETE':
          if (sub === undefined) return 'DeleteBucket';
          throw notImplemented(`DELETE /{bucket}?${sub}`);
        case 'POST':
          if (sub === 'delete') return 'DeleteObjects';
          if (sub === undefined) throw notImplemented('browser-form POST uploads');
          throw notImplemented(`POST /{bucket}?${sub}`);
        default:
          throw methodNotAllowed(m, 'BUCKET');
      }
    }
    switch (m) {
      case 'PUT':
        if (sub !== undefined) throw notImplemented(`PUT /{bucket}/{key}?${sub}`);
        if (req.headers['x-amz-copy-source'] !== undefined) throw notImplemented('CopyObject (x-amz-copy-source)');
        return 'PutObject';
      case 'GET':
        if (sub !== undefined) throw notImplemented(`GET /{bucket}/{key}?${sub}`);
        return 'GetObject';
      case 'HEAD':
        if (sub !== undefined) throw notImplemented(`HEAD /{bucket}/{key}?${sub}`);
        return 'HeadObject';
      case 'DELETE':
        if (sub !== undefined) throw notImplemented(`DELETE /{bucket}/{key}?${sub}`);
        return 'DeleteObject';
      case 'POST':
        if (sub !== undefined) throw notImplemented(`POST /{bucket}/{key}?${sub}`);
        throw methodNotAllowed(m, 'OBJECT');
      default:
        throw methodNotAllowed(m, 'OBJECT');
    }
  }

  /**
   * The request body as S3 sees it: aws-chunked decoded, x-amz-content-sha256 / Content-MD5 /
   * x-amz-checksum-* verified.
   */
  function readBody(req: SimRequest): Body {
    const h = req.headers;
    const sha = h['x-amz-content-sha256'];
    const encodings = (h['content-encoding'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const chunked = encodings.includes('aws-chunked') || (sha !== undefined && sha.startsWith('STREAMING-'));
    let data = req.body;
    let trailers = new Map<string, string>();
    if (sha !== undefined && !/^(UNSIGNED-PAYLOAD|STREAMING-(UNSIGNED-PAYLOAD-TRAILER|AWS4-HMAC-SHA256-PAYLOAD(-TRAILER)?|AWS4-ECDSA-P256-SHA256-PAYLOAD(-TRAILER)?)|[0-9a-fA-F]{64})$/.test(sha)) {
      throw new AwsError('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.', 400, {
        ArgumentName: 'x-amz-content-sha256',
        ArgumentValue: sha,
      });
    }
    if (chunked) {
      const declared = h['x-amz-decoded-content-length'];
      if (declared === undefined || !/^\d+$/.test(declared)) throw new AwsError('MissingContentLength', 'You must provide the Content-Length HTTP header.', 411);
      const decoded = decodeAwsChunked(req.body);
      if (decoded.data.length !== Number(declared)) {
        throw new AwsError('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header', 400, {
          NumberBytesExpected: declared,
          NumberBytesProvided: String(decoded.data.length),
        });
      }
      data = decoded.data;
      trailers = decoded.trailers;
    } else if (sha !== undefined && /^[0-9a-fA-F]{64}$/.test(sha)) {
      const computed = createHash('sha256').update(data).digest('hex');
      if (computed !== sha.toLowerCase()) {
        throw new AwsError('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", 400, {
          ClientComputedContentSHA256: sha,
          S3ComputedContentSHA256: computed,
        });
      }
    }

    const md5 = h['content-md5'];
    if (md5 !== undefined) {
      if (!isBase64Of(md5.trim(), 16)) throw new AwsError('InvalidDigest', 'The Content-MD5 you specified was invalid.', 400, { 'Content-MD5': md5 });
      const computed = createHash('md5').update(data).digest('base64');
      if (computed !== md5.trim()) {
        throw new AwsError('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400, {
          ExpectedDigest: Buffer.from(md5.trim(), 'base64').toString('hex'),
          CalculatedDigest: md5Hex(data),
        });
      }
    }

    // Flexible checksums: at most one, in a header or announced in x-amz-trailer.
    const sent: { name: string; value: string | undefined; trailer: boolean }[] = [];
    for (const [name, value] of Object.entries(h)) {
      if (!name.startsWith('x-amz-checksum-')) continue;
      const suffix = name.slice('x-amz-checksum-'.length);
      if (suffix === 'mode' || suffix === 'type' || suffix === 'algorithm') continue;
      sent.push({ name, value, trailer: false });
    }
    const trailerDecl = h['x-amz-trailer'];
    if (trailerDecl !== undefined) {
      for (const raw of trailerDecl.split(',')) {
        const name = raw.trim().toLowerCase();
        if (name === '') continue;
        if (!name.startsWith('x-amz-checksum-')) throw new AwsError('InvalidRequest', `The value specified in the x-amz-trailer header is not supported`, 400);
        if (!chunked) throw new AwsError('InvalidRequest', 'x-amz-trailer is only allowed with an aws-chunked body (Content-Encoding: aws-chunked)', 400);
        const value = trailers.get(name);
        if (value === undefined) throw new AwsError('MalformedTrailerError', 'The request contained trailing data that was not well-formed or did not conform to our published schema.', 400);
        sent.push({ name, value, trailer: true });
      }
    }
    if (sent.length > 1) throw new AwsError('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.', 400);
    const sdkAlg = h['x-amz-sdk-checksum-algorithm'];
    if (sdkAlg !== undefined) {
      const known = Object.values(CHECKSUM_HEADERS) as string[];
      if (!known.includes(sdkAlg.toUpperCase()) && !UNSUPPORTED_CHECKSUMS.has(sdkAlg.toLowerCase())) {
        throw new AwsError('InvalidRequest', 'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]', 400);
      }
      if (sent.length === 0) throw new AwsError('InvalidRequest', 'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.', 400);
      if (`x-amz-checksum-${sdkAlg.toLowerCase()}` !== sent[0]!.name) throw new AwsError('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.', 400);
    }
    let verified: Body['checksum'];
    const one = sent[0];
    if (one) {
      const suffix = one.name.slice('x-amz-checksum-'.length);
      if (UNSUPPORTED_CHECKSUMS.has(suffix)) throw notImplemented(`the ${suffix.toUpperCase()} checksum`);
      const alg = Object.hasOwn(CHECKSUM_HEADERS, suffix) ? CHECKSUM_HEADERS[suffix] : undefined;
      if (!alg) throw new AwsError('InvalidRequest', `The ${one.trailer ? 'trailing' : ''} header ${one.name} is not a supported checksum.`.replace('  ', ' '), 400);
      const value = (one.value ?? '').trim();
      if (!isBase64Of(value, DIGEST_BYTES[alg])) {
        throw new AwsError('InvalidRequest', `Value for ${one.name} ${one.trailer ? 'trailing header' : 'header'} is invalid.`, 400);
      }
      const computed = checksum(alg, data);
      if (computed !== value) throw new AwsError('BadDigest', `The ${alg} you specified did not match the calculated checksum.`, 400);
      verified = { algorithm: alg, value };
    }

    const rest = encodings.filter((e) => e !== 'aws-chunked');
    return { data, checksum: verified, contentEncoding: rest.length > 0 ? rest.join(',') : undefined };
  }

  // ---------------------------------------------------------------- lookups

  function noSuchBucket(name: string): AwsError {
    return new AwsError('NoSuchBucket', 'The specified bucket does not exist', 404, { BucketName: name });
  }

  function invalidBucketName(name: string): AwsError {
    return new AwsError('InvalidBucketName', 'The specified bucket is not valid.', 400, { BucketName: name });
  }

  /** The bucket a request addresses, checked for existence, owner and Region. */
  function bucketOf(req: SimRequest, opts: { anyRegion?: boolean } = {}): Bucket {
    const name = target(req).bucket!;
    const b = buckets.get(name);
    if (!b) {
      if (!isLegacyBucketName(name)) throw invalidBucketName(name);
      throw noSuchBucket(name);
    }
    const expected = req.headers['x-amz-expected-bucket-owner'];
    if (expected !== undefined && expected !== ctx.account) throw new AwsError('AccessDenied', 'Access Denied', 403);
    if (!opts.anyRegion && b.region !== req.region) {
      throw new S3Error(
        'PermanentRedirect',
        'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
        301,
        { Bucket: name, Endpoint: `s3.${b.region}.amazonaws.com` },
        { 'x-amz-bucket-region': b.region },
      );
    }
    return b;
  }

  function keyOf(req: SimRequest): string {
    const key = target(req).key!;
    const size = utf8Length(key);
    if (size > MAX_KEY_BYTES) throw new AwsError('KeyTooLongError', 'Your key is too long', 400, { MaxSizeAllowed: String(MAX_KEY_BYTES), Size: String(size) });
    return key;
  }

  function noSuchKey(key: string): AwsError {
    return new AwsError('NoSuchKey', 'The specified key does not exist.', 404, { Key: key });
  }

  function preconditionFailed(condition: string): AwsError {
    return new AwsError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, { Condition: condition });
  }

  function takeConflict(bucket: string, key: string): void {
    const id = `${bucket}\0${key}`;
    const n = conflicts.get(id);
    if (n === undefined) return;
    if (n <= 1) conflicts.delete(id);
    else conflicts.set(id, n - 1);
    throw new AwsError('ConditionalRequestConflict', 'The conditional request cannot succeed due to a conflicting operation against this resource.', 409, { Key: key });
  }

  // ---------------------------------------------------------------- store

  function store(b: Bucket, obj: StoredObject): void {
    if (!b.objects.has(obj.key)) b.index.insert(obj.key);
    b.objects.set(obj.key, obj);
  }

  function remove(b: Bucket, key: string): boolean {
    if (!b.objects.delete(key)) return false;
    b.index.delete(key);
    return true;
  }

  function makeObject(key: string, data: Buffer, init: Partial<StoredObject> = {}): StoredObject {
    const alg = init.checksumAlgorithm ?? 'CRC64NVME';
    return {
      key,
      body: data,
      etag: `"${md5Hex(data)}"`,
      lastModified: now(),
      contentType: init.contentType ?? DEFAULT_CONTENT_TYPE,
      contentEncoding: init.contentEncoding,
      headers: init.headers ?? {},
      metadata: init.metadata ?? {},
      checksumAlgorithm: alg,
      checksumValue: init.checksumValue ?? checksum(alg, data),
      storageClass: init.storageClass ?? 'STANDARD',
      sse: init.sse ?? 'AES256',
      tagCount: init.tagCount ?? 0,
    };
  }

  // ---------------------------------------------------------------- bucket operations

  function createBucket(req: SimRequest): SimResponse {
    const name = target(req).bucket!;
    if (!isValidBucketName(name)) throw invalidBucketName(name);
    const body = readBody(req);
    let constraint: string | undefined;
    if (body.data.length > 0) {
      const root = parseBodyXml(body.data);
      if (root.name !== 'CreateBucketConfiguration') throw malformedXml();
      const lc = child(root, 'LocationConstraint');
      if (lc && lc.text.trim() !== '') constraint = lc.text.trim();
    }
    const endpoint = req.region;
    const valid = (r: string): boolean => KNOWN_REGIONS.has(r) || r === 'EU' || r === endpoint || r === ctx.region;
    const invalidConstraint = (r: string): AwsError =>
      new AwsError('InvalidLocationConstraint', 'The specified location-constraint is not valid', 400, { LocationConstraint: r });
    let region: string;
    if (endpoint === 'us-east-1') {
      if (constraint === undefined) region = 'us-east-1';
      else if (constraint === 'us-east-1' || !valid(constraint)) throw invalidConstraint(constraint);
      else region = constraint === 'EU' ? 'eu-west-1' : constraint;
    } else {
      if (constraint === undefined) {
        throw new AwsError('IllegalLocationConstraintException', 'The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.', 400);
      }
      if (!valid(constraint)) throw invalidConstraint(constraint);
      const wanted = constraint === 'EU' ? 'eu-west-1' : constraint;
      if (wanted !== endpoint) {
        throw new AwsError('IllegalLocationConstraintException', `The ${constraint} location constraint is incompatible for the region specific endpoint this request was sent to.`, 400);
      }
      region = wanted;
    }
    const existing = buckets.get(name);
    if (existing) {
      // Legacy us-east-1 behaviour: re-creating your own bucket there answers 200 OK.
      if (existing.region === 'us-east-1' && region === 'us-east-1') {
        return { status: 200, headers: { location: `/${name}` } };
      }
      throw new AwsError('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', 409, { BucketName: name });
    }
    buckets.set(name, { name, region, created: now(), objects: new Map(), index: new SortedKeys() });
    return { status: 200, headers: { location: region === 'us-east-1' ? `/${name}` : `http://${name}.s3.amazonaws.com/` } };
  }

  function headBucket(req: SimRequest): SimResponse {
    const b = bucketOf(req);
    return { status: 200, headers: { 'x-amz-bucket-region': b.region, 'x-amz-access-point-alias': 'false', 'content-type': 'application/xml' } };
  }

  function deleteBucket(req: SimRequest): SimResponse {
    const b = bucketOf(req);
    if (b.objects.size > 0) throw new AwsError('BucketNotEmpty', 'The bucket you tried to delete is not empty', 409, { BucketName: b.name });
    buckets.delete(b.name);
    for (const id of [...conflicts.keys()]) if (id.startsWith(`${b.name}\0`)) conflicts.delete(id);
    return { status: 204 };
  }

  function listBuckets(req: SimRequest): SimResponse {
    const q = req.query;
    const maxRaw = q.get('max-buckets');
    let max: number | undefined;
    if (maxRaw !== null) {
      if (!/^\d+$/.test(maxRaw) || Number(maxRaw) < 1 || Number(maxRaw) > 10000) {
        throw invalidArgument('Argument max-buckets must be an integer between 1 and 10000.', 'max-buckets', maxRaw);
      }
      max = Number(maxRaw);
    }
    const prefix = q.get('prefix') ?? '';
    const regionFilter = q.get('bucket-region');
    const tokenRaw = q.get('continuation-token');
    let after: string | undefined;
    if (tokenRaw !== null) {
      after = decodeToken(tokenRaw, 'b');
      if (after === undefined) throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', tokenRaw);
    }
    const names = [...buckets.keys()]
      .filter((n) => n.startsWith(prefix) && (after === undefined || compareUtf8(n, after) > 0))
      .filter((n) => regionFilter === null || buckets.get(n)!.region === regionFilter)
      .sort(compareUtf8);
    const page = max === undefined ? names : names.slice(0, max);
    const more = max !== undefined && names.length > max;
    const items = page
      .map((n) => {
        const b = buckets.get(n)!;
        return `<Bucket>${el('Name', b.name)}${el('CreationDate', iso(b.created))}${el('BucketRegion', b.region)}</Bucket>`;
      })
      .join('');
    const xml =
      `<ListAllMyBucketsResult xmlns="${XMLNS}"><Owner>${el('ID', ownerId)}</Owner><Buckets>${items}</Buckets>` +
      (more ? el('ContinuationToken', encodeToken('b', page[page.length - 1]!)) : '') +
      (q.has('prefix') ? el('Prefix', prefix) : '') +
      `</ListAllMyBucketsResult>`;
    return xmlResponse(xml);
  }

  function getBucketLocation(req: SimRequest): SimResponse {
    const b = bucketOf(req, { anyRegion: true });
    const value = b.region === 'us-east-1' ? '' : esc(b.region);
    return xmlResponse(`<LocationConstraint xmlns="${XMLNS}">${value}</LocationConstraint>`);
  }

  function getBucketVersioning(req: SimRequest): SimResponse {
    bucketOf(req);
    return xmlResponse(`<VersioningConfiguration xmlns="${XMLNS}"/>`);
  }

  // ---------------------------------------------------------------- listing

  function encodeToken(kind: string, value: string): string {
    return Buffer.from(`${kind}1:${value}`, 'utf8').toString('base64');
  }

  function decodeToken(token: string, kind: string): string | undefined {
    if (token === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return undefined;
    const s = Buffer.from(token, 'base64').toString('utf8');
    if (!s.startsWith(`${kind}1:`)) return undefined;
    return s.slice(kind.length + 2);
  }

  interface ListPage {
    contents: StoredObject[];
    prefixes: string[];
    truncated: boolean;
    /** The last key or common prefix returned. */
    last: string | undefined;
  }

  /**
   * One page of keys under `prefix` that sort after `after`, rolled up at `delimiter`. Cost is
   * O(maxKeys * log N): the start and every skipped common prefix are found by binary search.
   */
  function listPage(b: Bucket, prefix: string, delimiter: string, maxKeys: number, after: string | undefined): ListPage {
    const idx = b.index;
    let pos: Cursor = idx.lowerBound(prefix);
    if (after !== undefined) pos = idx.max(pos, idx.upperBound(after));
    const contents: StoredObject[] = [];
    const prefixes: string[] = [];
    let last: string | undefined;
    let count = 0;
    const nextEntry = (): { key: string; cp: string | undefined } | undefined => {
      for (;;) {
        const key = idx.at(pos);
        if (key === undefined || !key.startsWith(prefix)) return undefined;
        if (delimiter !== '') {
          const i = key.indexOf(delimiter, prefix.length);
          if (i >= 0) {
            const cp = key.slice(0, i + delimiter.length);
            if (after !== undefined && compareUtf8(cp, after) <= 0) {
              // This common prefix was returned already (it is the marker, or sorts before it).
              pos = idx.pastPrefix(cp);
              continue;
            }
            return { key, cp };
          }
        }
        return { key, cp: undefined };
      }
    };
    for (;;) {
      const e = nextEntry();
      if (e === undefined) return { contents, prefixes, truncated: false, last };
      if (count >= maxKeys) return { contents, prefixes, truncated: true, last };
      if (e.cp !== undefined) {
        prefixes.push(e.cp);
        last = e.cp;
        pos = idx.pastPrefix(e.cp);
      } else {
        contents.push(b.objects.get(e.key)!);
        last = e.key;
        pos = idx.next(pos);
      }
      count++;
    }
  }

  function maxKeysOf(q: URLSearchParams): { requested: number; effective: number } {
    const raw = q.get('max-keys');
    if (raw === null) return { requested: MAX_LIST_KEYS, effective: MAX_LIST_KEYS };
    if (!/^-?\d+$/.test(raw) || Number(raw) > 2147483647 || Number(raw) < -2147483648) {
      throw invalidArgument('Provided max-keys not an integer or within integer range', 'max-keys', raw);
    }
    const n = Number(raw);
    if (n < 0) throw invalidArgument('Argument maxKeys must be an integer between 0 and 2147483647', 'maxKeys', raw);
    return { requested: n, effective: Math.min(n, MAX_LIST_KEYS) };
  }

  function encodingOf(q: URLSearchParams): boolean {
    const e = q.get('encoding-type');
    if (e === null) return false;
    if (e.toLowerCase() !== 'url') throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', e);
    return true;
  }

  function contentsXml(o: StoredObject, enc: (s: string) => string, withOwner: boolean): string {
    return (
      `<Contents>${el('Key', enc(o.key))}${el('LastModified', iso(o.lastModified))}${el('ETag', o.etag)}` +
      `${el('ChecksumAlgorithm', o.checksumAlgorithm)}${el('ChecksumType', 'FULL_OBJECT')}${el('Size', o.body.length)}` +
      (withOwner ? `<Owner>${el('ID', ownerId)}</Owner>` : '') +
      `${el('StorageClass', o.storageClass)}</Contents>`
    );
  }

  function listObjectsV2(req: SimRequest): SimResponse {
    const b = bucketOf(req);
    const q = req.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const { requested, effective } = maxKeysOf(q);
    const url = encodingOf(q);
    const enc = url ? urlEncodeKey : (s: string) => s;
    const startAfter = q.get('start-after');
    const tokenRaw = q.get('continuation-token');
    let after: string | undefined;
    if (tokenRaw !== null) {
      after = decodeToken(tokenRaw, 'k');
      if (after === undefined) throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', tokenRaw);
    } else if (startAfter !== null && startAfter !== '') {
      after = startAfter;
    }
    const page = listPage(b, prefix, delimiter, effective, after);
    const fetchOwner = q.get('fetch-owner') === 'true';
    const xml =
      `<ListBucketResult xmlns="${XMLNS}">${el('Name', b.name)}${el('Prefix', enc(prefix))}` +
      (startAfter !== null ? el('StartAfter', enc(startAfter)) : '') +
      (tokenRaw !== null ? el('ContinuationToken', tokenRaw) : '') +
      (page.truncated && page.last !== undefined ? el('NextContinuationToken', encodeToken('k', page.last)) : '') +
      `${el('KeyCount', page.contents.length + page.prefixes.length)}${el('MaxKeys', requested)}` +
      (delimiter !== '' ? el('Delimiter', enc(delimiter)) : '') +
      (url ? el('EncodingType', 'url') : '') +
      el('IsTruncated', page.truncated) +
      page.contents.map((o) => contentsXml(o, enc, fetchOwner)).join('') +
      page.prefixes.map((p) => `<CommonPrefixes>${el('Prefix', enc(p))}</CommonPrefixes>`).join('') +
      `</ListBucketResult>`;
    return xmlResponse(xml);
  }

  function listObjects(req: SimRequest): SimResponse {
    const b = bucketOf(req);
    const q = req.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const { requested, effective } = maxKeysOf(q);
    const url = encodingOf(q);
    const enc = url ? urlEncodeKey : (s: string) => s;
    const marker = q.get('marker') ?? '';
    const page = listPage(b, prefix, delimiter, effective, marker === '' ? undefined : marker);
    const xml =
      `<ListBucketResult xmlns="${XMLNS}">${el('Name', b.name)}${el('Prefix', enc(prefix))}${el('Marker', enc(marker))}` +
      (page.truncated && delimiter !== '' && page.last !== undefined ? el('NextMarker', enc(page.last)) : '') +
      `${el('MaxKeys', requested)}` +
      (delimiter !== '' ? el('Delimiter', enc(delimiter)) : '') +
      (url ? el('EncodingType', 'url') : '') +
      el('IsTruncated', page.truncated) +
      page.contents.map((o) => contentsXml(o, enc, true)).join('') +
      page.prefixes.map((p) => `<CommonPrefixes>${el('Prefix', enc(p))}</CommonPrefixes>`).join('') +
      `</ListBucketResult>`;
    return xmlResponse(xml);
  }

  // ---------------------------------------------------------------- object operations

  function malformedXml(): AwsError {
    return new AwsError('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema', 400);
  }

  function parseBodyXml(data: Buffer): XmlElement {
    try {
      return parseXml(data.toString('utf8'));
    } catch (err) {
      if (err instanceof XmlSyntaxError) throw malformedXml();
      throw err;
    }
  }

  function putObject(req: SimRequest): SimResponse {
    const b = bucketOf(req);
    const key = keyOf(req);
    const h = req.headers;
    const body = readBody(req);

    // No prototype: a metadata name is any header suffix, `__proto__` and `constructor` included.
    const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
    let metaSize = 0;
    for (const [name, value] of Object.entries(h)) {
      if (!name.startsWith('x-amz-meta-')) continue;
      const short = name.slice('x-amz-meta-'.length);
      const decoded = decodeMetaValue(value);
      metadata[short] = decoded;
      metaSize += utf8Length(short) + utf8Length(decoded);
    }
    if (metaSize > MAX_METADATA_BYTES) {
      throw new AwsError('MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size', 400, {
        Size: String(metaSize),
        MaxSizeAllowed: String(MAX_METADATA_BYTES),
      });
    }
    const storageClass = h['x-amz-storage-class'] ?? 'STANDARD';
    if (!STORAGE_CLASSES.has(storageClass)) throw new AwsError('InvalidStorageClass', 'The storage class you specified is not valid', 400, { StorageClassRequested: storageClass });
    const sse = h['x-amz-server-side-encryption'] ?? 'AES256';
    if (!['AES256', 'aws:kms', 'aws:kms:dsse', 'aws:fsx'].includes(sse)) {
      throw invalidArgument('The encryption method specified is not supported', 'x-amz-server-side-encryption', sse);
    }
    const headers: Record<string, string> = {};
    for (const name of STORED_HEADERS) if (h[name] !== undefined) headers[name] = h[name]!;
    const tagging = h['x-amz-tagging'];
    const tagCount = tagging ? new URLSearchParams(tagging).size : 0;

    // Conditional writes, evaluated when the body has arrived (as S3 does at commit).
    const ifMatch = h['if-match'];
    const ifNoneMatch = h['if-none-match'];
    if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
      throw new AwsError('NotImplemented', 'A header you provided implies functionality that is not implemented', 501, { Header: 'If-None-Match' });
    }
    if (ifMatch !== undefined || ifNoneMatch !== undefined) takeConflict(b.name, key);
    const existing = b.objects.get(key);
    if (ifMatch !== undefined) {
      if (!existing) throw noSuchKey(key);
      if (!etagMatches(ifMatch, existing.etag)) throw preconditionFailed('If-Match');
    }
    if (ifNoneMatch !== undefined && existing) throw preconditionFailed('If-None-Match');

    const obj = makeObject(key, body.data, {
      contentType: h['content-type'] ?? DEFAULT_CONTENT_TYPE,
      contentEncoding: body.contentEncoding,
      headers,
      metadata,
      storageClass,
      sse,
      tagCount,
      ...(body.checksum ? { checksumAlgorithm: body.checksum.algorithm, checksumValue: body.checksum.value } : {}),
    });
    store(b, obj);
    const out: Record<string, string> = { etag: obj.etag, 'x-amz-server-side-encryption': obj.sse };
    if (body.checksum) {
      out[headerName(body.checksum.algorithm)] = body.checksum.value;
      out['x-amz-checksum-type'] = 'FULL_OBJECT';
    }
    return { status: 200, headers: out };
  }

  function objectHeaders(o: StoredObject): Record<string, string> {
    const out: Record<string, string> = {
      'last-modified': httpDate(o.lastModified),
      etag: o.etag,
      'content-type': o.contentType,
      'accept-ranges': 'bytes',
      'x-amz-server-side-encryption': o.sse,
      ...o.headers,
    };
    if (o.contentEncoding !== undefined) out['content-encoding'] = o.contentEncoding;
    if (o.storageClass !== 'STANDARD') out['x-amz-storage-class'] = o.storageClass;
    if (o.tagCount > 0) out['x-amz-tagging-count'] = String(o.tagCount);
    for (const [k, v] of Object.entries(o.metadata)) out[`x-amz-meta-${k}`] = encodeMetaValue(v);
    return out;
  }

  /** GetObject and HeadObject: conditional headers, Range, checksum mode. */
  function readObject(req: SimRequest, head: boolean): SimResponse {
    const b = bucketOf(req);
    const key = keyOf(req);
    const q = req.query;
    const versionId = q.get('versionId');
    if (versionId !== null && versionId !== 'null') throw invalidArgument('Invalid version id specified', 'versionId', versionId);
    const o = b.objects.get(key);
    if (!o) throw noSuchKey(key);
    const h = req.headers;
    // Overrides a header cannot carry (CR, LF, NUL, characters above U+00FF) are S3's InvalidArgument.
    for (const param of Object.keys(RESPONSE_OVERRIDES)) {
      const v = q.get(param);
      const problem = v === null ? undefined : overrideProblem(v);
      if (problem !== undefined) throw invalidArgument(problem, param, v!);
    }

    // RFC 7232 order, as S3 documents it: If-Match, else If-Unmodified-Since -> 412;
    // If-None-Match, else If-Modified-Since -> 304.
    if (h['if-match'] !== undefined) {
      if (!etagMatches(h['if-match'], o.etag)) throw preconditionFailed('If-Match');
    } else {
      const since = parseHttpDate(h['if-unmodified-since']);
      if (since !== undefined && o.lastModified > since) throw preconditionFailed('If-Unmodified-Since');
    }
    let notModified = false;
    if (h['if-none-match'] !== undefined) {
      notModified = etagMatches(h['if-none-match'], o.etag);
    } else {
      const since = parseHttpDate(h['if-modified-since']);
      if (since !== undefined && o.lastModified <= since) notModified = true;
    }
    if (notModified) {
      return { status: 304, headers: { etag: o.etag, 'last-modified': httpDate(o.lastModified) } };
    }
    if (!head && ARCHIVED_CLASSES.has(o.storageClass)) {
      throw new AwsError('InvalidObjectState', "The operation is not valid for the object's storage class", 403, { StorageClass: o.storageClass });
    }

    const size = o.body.length;
    const headers = objectHeaders(o);
    for (const [param, header] of Object.entries(RESPONSE_OVERRIDES)) {
      const v = q.get(param);
      if (v !== null) headers[header] = v;
    }
    const range = parseRange(h['range'], size);
    if (range === 'unsatisfiable') {
      throw new S3Error('InvalidRange', 'The requested range is not satisfiable', 416, { RangeRequested: h['range']!, ActualObjectSize: String(size) }, {
        'content-range': `bytes */${size}`,
      });
    }
    if (range === undefined && h['x-amz-checksum-mode']?.toUpperCase() === 'ENABLED') {
      headers[headerName(o.checksumAlgorithm)] = o.checksumValue;
      headers['x-amz-checksum-type'] = 'FULL_OBJECT';
    }
    if (range !== undefined) {
      const length = range.end - range.start + 1;
      headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
      headers['content-length'] = String(length);
      return { status: 206, headers, body: head ? '' : o.body.subarray(range.start, range.end + 1) };
    }
    headers['content-length'] = String(size);
    return { status: 200, headers, body: head ? '' : o.body };
  }

  function deleteObject(req: SimRequest): SimResponse {
    const b = bucketOf(req);
    const key = keyOf(req);
    const versionId = req.query.get('versionId');
    if (versionId !== null && versionId !== 'null') throw invalidArgument('Invalid version id specified', 'versionId', versionId);
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined) {
      takeConflict(b.name, key);
      const o = b.objects.get(key);
      if (!o) throw noSuchKey(key);
      if (!etagMatches(ifMatch, o.etag)) throw preconditionFailed('If-Match');
    }
    remove(b, key);
    return { status: 204 };
  }

  function deleteObjects(req: SimRequest): SimResponse {
    const b = bucketOf(req);
    const h = req.headers;
    const hasIntegrity =
      h['content-md5'] !== undefined ||
      h['x-amz-trailer'] !== undefined ||
      Object.keys(h).some((k) => k.startsWith('x-amz-checksum-') && !['x-amz-checksum-mode', 'x-amz-checksum-type'].includes(k));
    if (!hasIntegrity) throw new AwsError('InvalidRequest', 'Missing required header for this request: Content-MD5', 400);
    const body = readBody(req);
    const root = parseBodyXml(body.data);
    if (root.name !== 'Delete') throw malformedXml();
    const objects = childrenNamed(root, 'Object');
    if (objects.length === 0 || objects.length > MAX_DELETE_OBJECTS) throw malformedXml();
    const quietEl = child(root, 'Quiet');
    const quiet = quietEl !== undefined && quietEl.text.trim().toLowerCase() === 'true';
    const items: { key: string; etag: string | undefined; versionId: string | undefined }[] = [];
    for (const o of objects) {
      const k = child(o, 'Key');
      if (!k) throw malformedXml();
      items.push({ key: k.text, etag: child(o, 'ETag')?.text, versionId: child(o, 'VersionId')?.text });
    }
    let out = '';
    for (const it of items) {
      const fail = (code: string, message: string): void => {
        out += `<Error>${el('Key', it.key)}${it.versionId !== undefined ? el('VersionId', it.versionId) : ''}${el('Code', code)}${el('Message', message)}</Error>`;
      };
      if (utf8Length(it.key) > MAX_KEY_BYTES) {
        fail('KeyTooLongError', 'Your key is too long');
        continue;
      }
      if (it.versionId !== undefined && it.versionId !== 'null') {
        fail('NoSuchVersion', 'The specified version does not exist.');
        continue;
      }
      if (it.etag !== undefined) {
        const o = b.objects.get(it.key);
        if (!o) {
          fail('NoSuchKey', 'The specified key does not exist.');
          continue;
        }
        if (!etagMatches(it.etag, o.etag)) {
          fail('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
          continue;
        }
      }
      remove(b, it.key);
      if (!quiet) out += `<Deleted>${el('Key', it.key)}${it.versionId !== undefined ? el('VersionId', it.versionId) : ''}</Deleted>`;
    }
    return xmlResponse(`<DeleteResult xmlns="${XMLNS}">${out}</DeleteResult>`);
  }

  // ---------------------------------------------------------------- module

  const handlers: Record<string, (req: SimRequest) => SimResponse> = {
    ListBuckets: listBuckets,
    CreateBucket: createBucket,
    HeadBucket: headBucket,
    DeleteBucket: deleteBucket,
    GetBucketLocation: getBucketLocation,
    GetBucketVersioning: getBucketVersioning,
    ListObjectsV2: listObjectsV2,
    ListObjects: listObjects,
    DeleteObjects: deleteObjects,
    PutObject: putObject,
    GetObject: (req) => readObject(req, false),
    HeadObject: (req) => readObject(req, true),
    DeleteObject: deleteObject,
  };

  function renderError(err: AwsError, req: SimRequest): SimResponse {
    const id2 = hostId();
    const headers: Record<string, string> = { 'x-amz-id-2': id2, ...(err instanceof S3Error ? err.headers : {}) };
    if (req.method === 'HEAD' || err.status === 304) return { status: err.status, headers: { ...headers, 'content-type': 'application/xml' }, body: '' };
    let fields = '';
    for (const [k, v] of Object.entries(err.fields)) {
      if (Array.isArray(v)) for (const item of v) fields += el(k, item);
      else fields += el(k, v);
    }
    const xml = `<Error>${el('Code', err.code)}${el('Message', err.message)}${fields}${el('RequestId', req.requestId)}${el('HostId', id2)}</Error>`;
    return xmlResponse(xml, err.status, headers);
  }

  const control: S3Control = {
    buckets: () => [...buckets.keys()].sort(compareUtf8),
    createBucket(name, region) {
      if (!isValidBucketName(name)) throw new RangeError(`invalid bucket name "${name}"`);
      if (!buckets.has(name)) buckets.set(name, { name, region: region ?? ctx.region, created: now(), objects: new Map(), index: new SortedKeys() });
    },
    objects(bucket) {
      const b = buckets.get(bucket);
      if (!b) throw new RangeError(`no bucket "${bucket}"`);
      return [...b.index.keys()].map((k) => {
        const o = b.objects.get(k)!;
        return { key: o.key, size: o.body.length, etag: o.etag, lastModified: iso(o.lastModified), contentType: o.contentType, metadata: { ...o.metadata } };
      });
    },
    getObject(bucket, key) {
      const o = buckets.get(bucket)?.objects.get(key);
      return o ? Buffer.from(o.body) : undefined;
    },
    putObject(bucket, key, body, opts = {}) {
      const b = buckets.get(bucket);
      if (!b) throw new RangeError(`no bucket "${bucket}"`);
      if (utf8Length(key) > MAX_KEY_BYTES || key === '') throw new RangeError(`invalid key (must be 1..${MAX_KEY_BYTES} UTF-8 bytes)`);
      const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
      const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
      for (const [k, v] of Object.entries(opts.metadata ?? {})) metadata[k.toLowerCase()] = v;
      const obj = makeObject(key, data, { metadata, ...(opts.contentType ? { contentType: opts.contentType } : {}) });
      store(b, obj);
      return obj.etag;
    },
    deleteObject(bucket, key) {
      const b = buckets.get(bucket);
      return b ? remove(b, key) : false;
    },
    conflictNext(bucket, key, n = 1) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`conflictNext: n must be a whole number >= 1, got ${n}`);
      const id = `${bucket}\0${key}`;
      conflicts.set(id, (conflicts.get(id) ?? 0) + n);
    },
  };

  return {
    service: 's3',
    action(req: SimRequest): ActionInfo {
      const action = actionOf(req);
      return { action, bucket: req.method === 'GET' || req.method === 'HEAD' ? 's3:read' : 's3:write' };
    },
    handle(req: SimRequest, info: ActionInfo): SimResponse {
      const handler = handlers[info.action];
      if (!handler) throw notImplemented(info.action);
      const res = handler(req);
      return { ...res, headers: { 'x-amz-id-2': hostId(), ...(res.headers ?? {}) } };
    },
    renderError,
    throttleError: () => new AwsError('SlowDown', 'Please reduce your request rate.', 503),
    serverError: (status: number) =>
      status === 503
        ? new AwsError('ServiceUnavailable', 'Service is unable to handle request.', 503)
        : new AwsError('InternalError', 'We encountered an internal error. Please try again.', status),
    control,
  };
}
