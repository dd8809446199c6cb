/**
 * The EBS direct API of the local cloud (REST-JSON, signing name `ebs`): ListSnapshotBlocks,
 * ListChangedBlocks and GetSnapshotBlock over the snapshots EC2's CreateSnapshot made.
 *
 * Blocks are 512 KiB. A block's content is the content token the instance "wrote"
 * (VolumeControl.writeVolumeBlocks); its BlockToken is derived from the block index and that
 * content, and GetSnapshotBlock returns 512 KiB of deterministic data derived from it.
 *
 * The write side (StartSnapshot, PutSnapshotBlock, CompleteSnapshot) builds snapshots from
 * blocks a client sends: each block is 512 KiB with its SHA256 checksum (base64) and
 * x-amz-Data-Length; CompleteSnapshot checks ChangedBlocksCount (and the LINEAR aggregate
 * checksum when given) and completes the snapshot after `delays.snapshotMs`. Such a snapshot
 * starts from its ParentSnapshotId's blocks, and is then read like any other. Written data is
 * kept by checksum (identical blocks once), within MAX_STORED_BYTES.
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
  | { action: 'PutSnapshotBlock'; snapshotId: string; blockIndex: string }
  | { action: 'StartSnapshot' }
  | { action: 'CompleteSnapshot'; snapshotId: string };

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
    if (m === 'PUT' && parts.length === 4 && parts[2] === 'blocks') return { action: 'PutSnapshotBlock', snapshotId: parts[1]!, blockIndex: parts[3]! };
    if (m === 'POST' && parts.length === 1) return { action: 'StartSnapshot' };
    if (m === 'POST' && parts.length === 3 && parts[1] === 'completion') return { action: 'CompleteSnapshot', snapshotId: parts[2]! };
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

/** Most block data the write API keeps (distinct blocks, 512 KiB each): 512 blocks. */
export const MAX_STORED_BYTES = 256 * 1024 * 1024;
/** Largest volume a snapshot may describe, in GiB (64 TiB). */
const MAX_VOLUME_GIB = 65_536;
const DIRECT = 'direct:';

/** A snapshot being written through the EBS direct API. */
interface DirectSnapshot {
  record: SnapshotRecord;
  /** Blocks written by this snapshot (not inherited from the parent). */
  written: Set<number>;
  clientToken?: string;
  fingerprint: string;
  description: string;
  tags: { Key: string; Value: string }[];
  /** Simulated ms after which a snapshot still pending goes to error (Timeout minutes). */
  deadline: number;
  completing: boolean;
}

export function createEbs(ctx: SimContext, ec2Snapshots: SnapshotStore): ServiceModule {
  const direct = new Map<string, DirectSnapshot>();
  const byClientToken = new Map<string, string>();
  /** Block data by its checksum (base64 SHA256). */
  const data = new Map<string, Buffer>();
  let storedBytes = 0;

  /** Snapshots written here first, then EC2's (CreateSnapshot). */
  const snapshots: SnapshotStore = {
    getSnapshot(id) {
      const d = direct.get(id);
      if (d) {
        if (d.record.state === 'pending' && !d.completing && ctx.clock.now() > d.deadline) d.record.state = 'error';
        return d.record;
      }
      return ec2Snapshots.getSnapshot(id);
    },
  };

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
    const data = content.startsWith(DIRECT) ? storedBlock(content) : blockData(token);
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

  function storedBlock(content: string): Buffer {
    const d = data.get(content.slice(DIRECT.length));
    if (!d) throw new AwsError('InternalServerException', 'An internal error has occurred.', 500);
    return d;
  }

  function body(req: SimRequest): Record<string, unknown> {
    if (req.body.length === 0) return {};
    let v: unknown;
    try {
      v = JSON.parse(req.body.toString('utf8'));
    } catch {
      throw validation('INVALID_PARAMETER_VALUE', 'The request body is not valid JSON.');
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw validation('INVALID_PARAMETER_VALUE', 'The request body must be a JSON object.');
    return v as Record<string, unknown>;
  }

  function startSnapshot(req: SimRequest): SimResponse {
    const b = body(req);
    const size = b['VolumeSize'];
    if (size === undefined) throw validation('INVALID_PARAMETER_VALUE', "1 validation error detected: Value null at 'volumeSize' failed to satisfy constraint: Member must not be null");
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > MAX_VOLUME_GIB) throw validation('INVALID_VOLUME_SIZE', `The volume size ${JSON.stringify(size)} is not valid: 1..${MAX_VOLUME_GIB} GiB.`);
    const parentId = b['ParentSnapshotId'];
    if (parentId !== undefined && typeof parentId !== 'string') throw validation('INVALID_PARAMETER_VALUE', 'ParentSnapshotId must be a string.');
    if (parentId !== undefined) checkSnapshotId(parentId, 'parentSnapshotId');
    const description = b['Description'] ?? '';
    if (typeof description !== 'string' || description.length > 255) throw validation('INVALID_PARAMETER_VALUE', 'Description must be a string of at most 255 characters.');
    const rawTags = b['Tags'] ?? [];
    if (!Array.isArray(rawTags) || rawTags.length > 50) throw validation('INVALID_TAG', 'Tags must be a list of at most 50 tags.');
    const tags = rawTags.map((t: unknown) => {
      const o = (typeof t === 'object' && t !== null ? t : {}) as Record<string, unknown>;
      if (typeof o['Key'] !== 'string' || o['Key'] === '' || o['Key'].length > 127 || typeof (o['Value'] ?? '') !== 'string' || String(o['Value'] ?? '').length > 255) throw validation('INVALID_TAG', 'A tag has a Key of 1..127 characters and a Value of at most 255.');
      return { Key: o['Key'], Value: String(o['Value'] ?? '') };
    });
    const timeout = b['Timeout'] ?? 60;
    if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 10 || timeout > 4320) throw validation('INVALID_PARAMETER_VALUE', `Timeout ${JSON.stringify(timeout)} must be a whole number of minutes, 10..4320.`);
    if (b['Encrypted'] !== undefined && typeof b['Encrypted'] !== 'boolean') throw validation('INVALID_PARAMETER_VALUE', 'Encrypted must be true or false.');
    const clientToken = b['ClientToken'];
    if (clientToken !== undefined && (typeof clientToken !== 'string' || clientToken.length > 255)) throw validation('INVALID_PARAMETER_VALUE', 'ClientToken must be a string of at most 255 characters.');
    const fingerprint = JSON.stringify([size, parentId ?? null, description, tags, timeout, b['Encrypted'] ?? false]);
    if (clientToken !== undefined) {
      const earlier = byClientToken.get(clientToken);
      if (earlier !== undefined) {
        const d = direct.get(earlier)!;
        if (d.fingerprint !== fingerprint) throw new AwsError('ConflictException', 'The request uses the same client token as a previous, but non-identical request.', 409);
        return startResponse(d);
      }
    }
    let parent: SnapshotRecord | undefined;
    if (parentId !== undefined) {
      parent = snapshots.getSnapshot(parentId);
      if (!parent || parent.state !== 'completed') throw new AwsError('ResourceNotFoundException', `The parent snapshot '${parentId}' does not exist or is not completed.`, 404, { Reason: 'DEPENDENCY_RESOURCE_NOT_FOUND' });
      if (size < parent.volumeSizeGiB) throw validation('INVALID_VOLUME_SIZE', `The volume size ${size} GiB is smaller than the parent snapshot's ${parent.volumeSizeGiB} GiB.`);
    }
    const id = ctx.ids.next('snap');
    const now = ctx.clock.now();
    const record: SnapshotRecord = {
      snapshotId: id,
      // Not made from a volume: each lineage of direct snapshots is its own.
      volumeId: parent ? parent.volumeId : `${DIRECT}${id}`,
      volumeSizeGiB: size,
      state: 'pending',
      startTime: now,
      blocks: new Map(parent ? parent.blocks : []),
      ...(parent ? { parentSnapshotId: parent.snapshotId } : {}),
    };
    const d: DirectSnapshot = { record, written: new Set(), fingerprint, description, tags, deadline: now + timeout * 60_000, completing: false, ...(clientToken !== undefined ? { clientToken } : {}) };
    direct.set(id, d);
    if (clientToken !== undefined) byClientToken.set(clientToken, id);
    return startResponse(d, 201);
  }

  function startResponse(d: DirectSnapshot, status = 201): SimResponse {
    const r = d.record;
    return json(
      {
        Description: d.description,
        SnapshotId: r.snapshotId,
        OwnerId: ctx.account,
        Status: r.state,
        StartTime: Math.floor(r.startTime / 1000),
        VolumeSize: r.volumeSizeGiB,
        BlockSize: EBS_BLOCK_SIZE,
        Tags: d.tags,
        ...(r.parentSnapshotId !== undefined ? { ParentSnapshotId: r.parentSnapshotId } : {}),
        SseType: 'none',
      },
      status,
    );
  }

  /** A snapshot this API is writing, still pending (not completing, not timed out). */
  function writable(snapshotId: string): DirectSnapshot {
    checkSnapshotId(snapshotId, 'snapshotId');
    const d = direct.get(snapshotId);
    const state = snapshots.getSnapshot(snapshotId)?.state;
    if (!d) throw notFound(snapshotId);
    if (state !== 'pending' || d.completing) throw validation('INVALID_DEPENDENCY_REQUEST', `The snapshot '${snapshotId}' is ${state === 'pending' ? 'completing' : state}: blocks can be written only while it is pending.`);
    return d;
  }

  function header(req: SimRequest, name: string): string | undefined {
    return req.headers[name.toLowerCase()];
  }

  function putSnapshotBlock(req: SimRequest, snapshotId: string, rawIndex: string): SimResponse {
    const d = writable(snapshotId);
    if (!/^\d+$/.test(rawIndex) || !Number.isSafeInteger(Number(rawIndex))) throw validation('INVALID_BLOCK', `1 validation error detected: Value '${rawIndex}' at 'blockIndex' failed to satisfy constraint: Member must be a non-negative integer`);
    const index = Number(rawIndex);
    if (index >= d.record.volumeSizeGiB * BLOCKS_PER_GIB) throw validation('INVALID_BLOCK', `The block index ${index} is outside the snapshot's volume of ${d.record.volumeSizeGiB} GiB.`);
    const lengthHeader = header(req, 'x-amz-Data-Length');
    if (lengthHeader === undefined) throw validation('INVALID_PARAMETER_VALUE', "1 validation error detected: Value null at 'dataLength' failed to satisfy constraint: Member must not be null");
    if (!/^\d+$/.test(lengthHeader) || Number(lengthHeader) !== EBS_BLOCK_SIZE) throw validation('INVALID_PARAMETER_VALUE', `The data length ${lengthHeader} is not valid: a block is ${EBS_BLOCK_SIZE} bytes.`);
    if (req.body.length !== EBS_BLOCK_SIZE) throw validation('INVALID_PARAMETER_VALUE', `The block data is ${req.body.length} bytes; x-amz-Data-Length says ${lengthHeader}.`);
    const algorithm = header(req, 'x-amz-Checksum-Algorithm');
    if (algorithm !== 'SHA256') throw validation('INVALID_CHECKSUM', `The checksum algorithm ${JSON.stringify(algorithm ?? null)} is not supported: SHA256.`);
    const checksum = header(req, 'x-amz-Checksum');
    if (checksum === undefined || checksum === '') throw validation('INVALID_CHECKSUM', "1 validation error detected: Value null at 'checksum' failed to satisfy constraint: Member must not be null");
    const actual = createHash('sha256').update(req.body).digest('base64');
    if (checksum !== actual) throw validation('INVALID_CHECKSUM', 'The checksum of the block data does not match x-amz-Checksum.');
    const progress = header(req, 'x-amz-Progress');
    if (progress !== undefined && (!/^\d+$/.test(progress) || Number(progress) > 100)) throw validation('INVALID_PARAMETER_VALUE', `Progress ${progress} must be 0..100.`);
    if (!data.has(actual)) {
      if (storedBytes + EBS_BLOCK_SIZE > MAX_STORED_BYTES) throw new AwsError('ServiceQuotaExceededException', `The local cloud keeps at most ${MAX_STORED_BYTES} bytes of written blocks.`, 402, { Reason: 'DEPENDENCY_SERVICE_QUOTA_EXCEEDED' });
      data.set(actual, Buffer.from(req.body));
      storedBytes += EBS_BLOCK_SIZE;
    }
    d.record.blocks.set(index, DIRECT + actual);
    d.written.add(index);
    return { status: 201, headers: { 'x-amz-Checksum': actual, 'x-amz-Checksum-Algorithm': 'SHA256' }, body: '' };
  }

  function completeSnapshot(req: SimRequest, snapshotId: string): SimResponse {
    checkSnapshotId(snapshotId, 'snapshotId');
    const d = direct.get(snapshotId);
    if (!d) throw notFound(snapshotId);
    const state = snapshots.getSnapshot(snapshotId)!.state;
    if (state === 'completed' || d.completing) return json({ Status: state }, 202);
    if (state === 'error') throw validation('INVALID_DEPENDENCY_REQUEST', `The snapshot '${snapshotId}' timed out before it was completed.`);
    const countHeader = header(req, 'x-amz-ChangedBlocksCount');
    if (countHeader === undefined) throw validation('INVALID_PARAMETER_VALUE', "1 validation error detected: Value null at 'changedBlocksCount' failed to satisfy constraint: Member must not be null");
    if (!/^\d+$/.test(countHeader)) throw validation('INVALID_PARAMETER_VALUE', `ChangedBlocksCount ${countHeader} must be a whole number.`);
    if (Number(countHeader) !== d.written.size) throw validation('INVALID_PARAMETER_VALUE', `ChangedBlocksCount ${countHeader} does not match the ${d.written.size} blocks written to the snapshot.`);
    const checksum = header(req, 'x-amz-Checksum');
    if (checksum !== undefined) {
      const algorithm = header(req, 'x-amz-Checksum-Algorithm');
      const method = header(req, 'x-amz-Checksum-Aggregation-Method');
      if (algorithm !== 'SHA256' || method !== 'LINEAR') throw validation('INVALID_CHECKSUM', 'An aggregate checksum needs x-amz-Checksum-Algorithm SHA256 and x-amz-Checksum-Aggregation-Method LINEAR.');
      // LINEAR: the SHA256 of the written blocks' checksums (binary), in block index order.
      const h = createHash('sha256');
      for (const i of [...d.written].sort((a, b) => a - b)) h.update(Buffer.from(d.record.blocks.get(i)!.slice(DIRECT.length), 'base64'));
      if (h.digest('base64') !== checksum) throw validation('INVALID_CHECKSUM', 'The aggregate checksum does not match the blocks written.');
    }
    d.completing = true;
    ctx.clock.after(ctx.delays.snapshotMs, () => {
      d.record.state = 'completed';
      d.completing = false;
    });
    return json({ Status: 'pending' }, 202);
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
        case 'StartSnapshot':
          return startSnapshot(req);
        case 'PutSnapshotBlock':
          return putSnapshotBlock(req, r.snapshotId, r.blockIndex);
        case 'CompleteSnapshot':
          return completeSnapshot(req, r.snapshotId);
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
