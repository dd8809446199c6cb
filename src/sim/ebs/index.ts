/**
 * The EBS direct API of the local cloud (REST-JSON, signing name `ebs`): ListSnapshotBlocks,
 * ListChangedBlocks and GetSnapshotBlock over the snapshots EC2's CreateSnapshot made.
 *
 * Blocks are 512 KiB. A block's content is the content token the instance "wrote"
 * (VolumeControl.writeVolumeBlocks); its BlockToken is derived from the block index and that
 * content, and GetSnapshotBlock returns 512 KiB of deterministic data derived from it.
 *
 * Paging, as on AWS: a page covers a range of block indexes, not a count of results, so a page
 * can hold fewer blocks than maxResults — or none at all — and still carry a NextToken. A
 * client must loop until the token is gone. A page scans at most 10 x maxResults block indexes.
 */
import { createHash } from 'node:crypto';
import { AwsError, type ActionInfo, type ServiceModule, type SimContext, type SimRequest, type SimResponse, type SnapshotRecord, type SnapshotStore } from '../types.js';

export const EBS_BLOCK_SIZE = 524_288;
const BLOCKS_PER_GIB = 2048;
/** Blocks per page when maxResults is not given. */
const DEFAULT_MAX_RESULTS = 10_000;
/** A page covers at most this many block indexes per requested result. */
const WINDOW_PER_RESULT = 10;
/** How long block tokens stay valid (reported as ExpiryTime). */
const TOKEN_LIFETIME_MS = 60 * 60 * 1000;

const SNAPSHOT_ID_RE = /^snap-[0-9a-f]+$/;
const TOKEN_RE = /^[A-Za-z0-9+/=]+$/;

type Route =
  | { action: 'ListSnapshotBlocks'; snapshotId: string }
  | { action: 'ListChangedBlocks'; snapshotId: string }
  | { action: 'GetSnapshotBlock'; snapshotId: string; blockIndex: string }
  | { action: 'PutSnapshotBlock' | 'StartSnapshot' | 'CompleteSnapshot' };

function validation(reason: string, message: string): AwsError {
  return new AwsError('ValidationException', message, 400, { Reason: reason });
}

function notFound(snapshotId: string): AwsError {
  return new AwsError('ResourceNotFoundException', `The snapshot '${snapshotId}' does not exist.`, 404, { Reason: 'SNAPSHOT_NOT_FOUND' });
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw validation('INVALID_PARAMETER_VALUE', `The path segment '${s}' is not valid percent-encoding.`);
  }
}

function route(req: SimRequest): Route {
  const parts = req.path.split('/').filter((x) => x !== '').map(decodeSegment);
  const m = req.method;
  if (parts[0] === 'snapshots') {
    if (m === 'GET' && parts.length === 3 && parts[2] === 'blocks') return { action: 'ListSnapshotBlocks', snapshotId: parts[1]! };
    if (m === 'GET' && parts.length === 3 && parts[2] === 'changedblocks') return { action: 'ListChangedBlocks', snapshotId: parts[1]! };
    if (m === 'GET' && parts.length === 4 && parts[2] === 'blocks') return { action: 'GetSnapshotBlock', snapshotId: parts[1]!, blockIndex: parts[3]! };
    if (m === 'PUT' && parts.length === 4 && parts[2] === 'blocks') return { action: 'PutSnapshotBlock' };
    if (m === 'POST' && parts.length === 1) return { action: 'StartSnapshot' };
    if (m === 'POST' && parts.length === 3 && parts[1] === 'completion') return { action: 'CompleteSnapshot' };
  }
  throw new AwsError('UnknownOperationException', `No EBS direct API operation matches ${m} ${req.path}`, 404);
}

function checkSnapshotId(id: string, param: string): void {
  if (id.length < 1 || id.length > 64 || !SNAPSHOT_ID_RE.test(id)) {
    throw validation('INVALID_SNAPSHOT_ID', `1 validation error detected: Value '${id}' at '${param}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^snap-[0-9a-f]+$`);
  }
}

function intParam(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = q.get(name);
  if (raw === null) return undefined;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw validation('INVALID_PARAMETER_VALUE', `1 validation error detected: Value '${raw}' at '${name}' failed to satisfy constraint: Member must be an integer`);
  }
  const n = Number(raw);
  if (n < min) throw validation('INVALID_PARAMETER_VALUE', `1 validation error detected: Value '${n}' at '${name}' failed to satisfy constraint: Member must have value greater than or equal to ${min}`);
  if (n > max) throw validation('INVALID_PARAMETER_VALUE', `1 validation error detected: Value '${n}' at '${name}' failed to satisfy constraint: Member must have value less than or equal to ${max}`);
  return n;
}

interface PageToken {
  /** Operation: 'b' ListSnapshotBlocks, 'c' ListChangedBlocks. */
  o: 'b' | 'c';
  s: string;
  f?: string;
  /** Next block index to examine. */
  i: number;
}

function encodePageToken(t: PageToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64');
}

function decodePageToken(raw: string, expect: Omit<PageToken, 'i'>): number {
  const invalid = validation('INVALID_PAGE_TOKEN', 'The pagination token is invalid or has expired.');
  if (raw.length > 256 || !TOKEN_RE.test(raw)) throw invalid;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  } catch {
    throw invalid;
  }
  // JSON that is not an object (null, a number, a string, an array) is no token of ours.
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid;
  const t = parsed as Partial<PageToken>;
  if (t.o !== expect.o || t.s !== expect.s || t.f !== expect.f || typeof t.i !== 'number' || !Number.isSafeInteger(t.i) || t.i < 0) throw invalid;
  return t.i;
}

/** The API's BlockToken for a block: derived from its index and its content. */
export function blockToken(index: number, content: string): string {
  return createHash('sha256').update(`${index}\0${content}`).digest('base64');
}

/** 512 KiB of deterministic data for a block (xorshift32 stream seeded by the block token). */
export function blockData(token: string): Buffer {
  const buf = Buffer.allocUnsafe(EBS_BLOCK_SIZE);
  let x = createHash('sha256').update(token).digest().readUInt32LE(0) || 0x9e3779b9;
  for (let off = 0; off < EBS_BLOCK_SIZE; off += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, off);
  }
  return buf;
}

export function createEbs(ctx: SimContext, snapshots: SnapshotStore): ServiceModule {
  /** Sorted written-block indexes per snapshot (snapshot blocks never change once taken). */
  const sortedCache = new WeakMap<Map<number, string>, number[]>();

  function sortedIndexes(blocks: Map<number, string>): number[] {
    let s = sortedCache.get(blocks);
    if (!s) {
      s = [...blocks.keys()].sort((a, b) => a - b);
      sortedCache.set(blocks, s);
    }
    return s;
  }

  function lowerBound(arr: number[], v: number): number {
    let lo = 0;
    let hi = arr.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (arr[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** A completed snapshot; pending ones are not visible to the EBS direct API yet. */
  function completedSnapshot(id: string): SnapshotRecord {
    const s = snapshots.getSnapshot(id);
    if (!s || s.state !== 'completed') throw notFound(id);
    return s;
  }

  /** Snapshots are related when they share a lineage: one descends from the other or both from a common snapshot. */
  function related(a: SnapshotRecord, b: SnapshotRecord): boolean {
    if (a.volumeId === b.volumeId) return true;
    const ancestors = new Set<string>();
    for (let s: SnapshotRecord | undefined = a, n = 0; s && n < 100_000; n++) {
      ancestors.add(s.snapshotId);
      s = s.parentSnapshotId !== undefined ? snapshots.getSnapshot(s.parentSnapshotId) : undefined;
    }
    for (let s: SnapshotRecord | undefined = b, n = 0; s && n < 100_000; n++) {
      if (ancestors.has(s.snapshotId)) return true;
      s = s.parentSnapshotId !== undefined ? snapshots.getSnapshot(s.parentSnapshotId) : undefined;
    }
    return false;
  }

  function pageBounds(req: SimRequest, tokenBase: Omit<PageToken, 'i'>): { start: number; max: number } {
    const max = intParam(req.query, 'maxResults', 100, 10_000) ?? DEFAULT_MAX_RESULTS;
    const rawToken = req.query.get('pageToken');
    const startIdx = intParam(req.query, 'startingBlockIndex', 0, Number.MAX_SAFE_INTEGER);
    const start = rawToken !== null && rawToken !== '' ? decodePageToken(rawToken, tokenBase) : (startIdx ?? 0);
    return { start, max };
  }

  function expiry(): number {
    return Math.floor((ctx.clock.now() + TOKEN_LIFETIME_MS) / 1000);
  }

  function listSnapshotBlocks(req: SimRequest, snapshotId: string): SimResponse {
    checkSnapshotId(snapshotId, 'snapshotId');
    const base: Omit<PageToken, 'i'> = { o: 'b', s: snapshotId };
    const { start, max } = pageBounds(req, base);
    const snap = completedSnapshot(snapshotId);
    const idx = sortedIndexes(snap.blocks);
    const volumeBlocks = snap.volumeSizeGiB * BLOCKS_PER_GIB;
    const end = Math.min(volumeBlocks, start + max * WINDOW_PER_RESULT);
    const out: { BlockIndex: number; BlockToken: string }[] = [];
    let i = lowerBound(idx, start);
    for (; i < idx.length && idx[i]! < end && out.length < max; i++) {
      const b = idx[i]!;
      out.push({ BlockIndex: b, BlockToken: blockToken(b, snap.blocks.get(b)!) });
    }
    const next = out.length >= max ? out[out.length - 1]!.BlockIndex + 1 : end;
    const more = lowerBound(idx, next) < idx.length && next < volumeBlocks;
    return json({
      Blocks: out,
      ExpiryTime: expiry(),
      VolumeSize: snap.volumeSizeGiB,
      BlockSize: EBS_BLOCK_SIZE,
      ...(more ? { NextToken: encodePageToken({ ...base, i: next }) } : {}),
    });
  }

  function listChangedBlocks(req: SimRequest, secondId: string): SimResponse {
    checkSnapshotId(secondId, 'secondSnapshotId');
    const firstId = req.query.get('firstSnapshotId') ?? undefined;
    if (firstId !== undefined) checkSnapshotId(firstId, 'firstSnapshotId');
    const base: Omit<PageToken, 'i'> = firstId !== undefined ? { o: 'c', s: secondId, f: firstId } : { o: 'c', s: secondId };
    const { start, max } = pageBounds(req, base);
    const second = completedSnapshot(secondId);
    const first = firstId !== undefined ? completedSnapshot(firstId) : undefined;
    if (first && !related(first, second)) {
      throw validation('UNRELATED_SNAPSHOTS', `The snapshots '${firstId}' and '${secondId}' are not of the same volume or snapshot lineage.`);
    }
    const a = first ? sortedIndexes(first.blocks) : [];
    const b = sortedIndexes(second.blocks);
    const volumeBlocks = Math.max(second.volumeSizeGiB, first?.volumeSizeGiB ?? 0) * BLOCKS_PER_GIB;
    const end = Math.min(volumeBlocks, start + max * WINDOW_PER_RESULT);
    const out: { BlockIndex: number; FirstBlockToken?: string; SecondBlockToken?: string }[] = [];
    let i = lowerBound(a, start);
    let j = lowerBound(b, start);
    let next = end;
    while (i < a.length || j < b.length) {
      const ai = i < a.length ? a[i]! : Infinity;
      const bj = j < b.length ? b[j]! : Infinity;
      const index = Math.min(ai, bj);
      if (index >= end) break;
      if (out.length >= max) {
        next = index;
        break;
      }
      const fc = ai === index ? first!.blocks.get(index) : undefined;
      const sc = bj === index ? second.blocks.get(index) : undefined;
      if (ai === index) i++;
      if (bj === index) j++;
      if (fc === sc) continue;
      const entry: { BlockIndex: number; FirstBlockToken?: string; SecondBlockToken?: string } = { BlockIndex: index };
      if (fc !== undefined) entry.FirstBlockToken = blockToken(index, fc);
      if (sc !== undefined) entry.SecondBlockToken = blockToken(index, sc);
      out.push(entry);
    }
    const more = next < volumeBlocks && (lowerBound(a, next) < a.length || lowerBound(b, next) < b.length);
    return json({
      ChangedBlocks: out,
      ExpiryTime: expiry(),
      VolumeSize: second.volumeSizeGiB,
      BlockSize: EBS_BLOCK_SIZE,
      ...(more ? { NextToken: encodePageToken({ ...base, i: next }) } : {}),
    });
  }

  function getSnapshotBlock(req: SimRequest, snapshotId: string, rawIndex: string): SimResponse {
    checkSnapshotId(snapshotId, 'snapshotId');
    if (!/^\d+$/.test(rawIndex) || !Number.isSafeInteger(Number(rawIndex))) {
      throw validation('INVALID_BLOCK', `1 validation error detected: Value '${rawIndex}' at 'blockIndex' failed to satisfy constraint: Member must be a non-negative integer`);
    }
    const index = Number(rawIndex);
    const token = req.query.get('blockToken');
    if (token === null || token === '') throw validation('INVALID_BLOCK_TOKEN', '1 validation error detected: Value null at \'blockToken\' failed to satisfy constraint: Member must not be null');
    if (token.length > 256 || !TOKEN_RE.test(token)) throw validation('INVALID_BLOCK_TOKEN', 'The block token is not valid.');
    const snap = completedSnapshot(snapshotId);
    if (index >= snap.volumeSizeGiB * BLOCKS_PER_GIB) throw validation('INVALID_BLOCK', `The block index ${index} is outside the snapshot's volume of ${snap.volumeSizeGiB} GiB.`);
    const content = snap.blocks.get(index);
    if (content === undefined || blockToken(index, content) !== token) throw validation('INVALID_BLOCK_TOKEN', 'The block token is not valid for this snapshot and block index.');
    const data = blockData(token);
    return {
      status: 200,
      headers: {
        'content-type': 'application/octet-stream',
        'x-amz-Data-Length': String(EBS_BLOCK_SIZE),
        'x-amz-Checksum': createHash('sha256').update(data).digest('base64'),
        'x-amz-Checksum-Algorithm': 'SHA256',
      },
      body: data,
    };
  }

  function json(body: unknown, status = 200): SimResponse {
    return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  }

  return {
    service: 'ebs',
    action(req) {
      const r = route(req);
      req.memo.set('ebs:route', r);
      return { action: r.action, bucket: 'ebs:direct' };
    },
    handle(req: SimRequest, _info: ActionInfo) {
      const r = (req.memo.get('ebs:route') as Route | undefined) ?? route(req);
      switch (r.action) {
        case 'ListSnapshotBlocks':
          return listSnapshotBlocks(req, r.snapshotId);
        case 'ListChangedBlocks':
          return listChangedBlocks(req, r.snapshotId);
        case 'GetSnapshotBlock':
          return getSnapshotBlock(req, r.snapshotId, r.blockIndex);
        default:
          throw new AwsError('AccessDeniedException', `The local cloud does not implement ${r.action}: snapshots are written through EC2 CreateSnapshot only.`, 403, { Reason: 'UNAUTHORIZED_ACCOUNT' });
      }
    },
    renderError(err) {
      const body: Record<string, unknown> = { Message: err.message };
      for (const [k, v] of Object.entries(err.fields)) body[k] = v;
      return { status: err.status, headers: { 'content-type': 'application/json', 'x-amzn-ErrorType': err.code }, body: JSON.stringify(body) };
    },
    throttleError: () => new AwsError('RequestThrottledException', 'The request was throttled: too many requests for the account.', 400, { Reason: 'ACCOUNT_THROTTLED' }),
    serverError: (status) => new AwsError('InternalServerException', 'An internal error has occurred.', status),
  };
}
