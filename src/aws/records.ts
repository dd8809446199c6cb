/**
 * S3 adapter for small create-only JSON records under the journal bucket (pool memory, event
 * markers). Create-only through IfNoneMatch '*' (S3 answers 412 when the key exists; a racing
 * conditional write may get 409, which the SDK's caller sees as "exists": re-read decides).
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Records } from '../ports.js';
import { awsCode, cloudError, httpStatus } from './errors.js';

/**
 * PutObject only if absent (IfNoneMatch '*'): true when written, false when the key exists.
 * S3 answers 412 for an existing key; a racing conditional write may get 409
 * (ConditionalRequestConflict): the key is read again, and the write retried while it is absent.
 */
export async function putIfAbsent(client: S3Client, bucket: string, key: string, body: string, exists: () => Promise<boolean>): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json', IfNoneMatch: '*' }));
      return true;
    } catch (err) {
      const status = httpStatus(err);
      const code = awsCode(err);
      if (status === 412 || code === 'PreconditionFailed') return false;
      if ((status === 409 || code === 'ConditionalRequestConflict') && attempt < 3) {
        if (await exists()) return false;
        continue;
      }
      throw cloudError(`writing s3://${bucket}/${key}`, err);
    }
  }
}

/** Every key under `prefix` (ListObjectsV2, every page), after `startAfter` when given, in the order S3 lists them. */
export async function listKeys(client: S3Client, bucket: string, prefix: string, startAfter?: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    let res;
    try {
      res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : startAfter ? { StartAfter: startAfter } : {}) }));
    } catch (err) {
      throw cloudError(`listing s3://${bucket}/${prefix}`, err);
    }
    for (const o of res.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
    token = res.IsTruncated ? res.NextContinuationToken || undefined : undefined;
  } while (token);
  return keys;
}

export function createS3Records(client: S3Client, bucket: string, prefix: string): Records {
  const full = (key: string) => (prefix ? `${prefix}/${key}` : key);
  const strip = (key: string) => (prefix && key.startsWith(`${prefix}/`) ? key.slice(prefix.length + 1) : key);
  const read = async (key: string): Promise<unknown | undefined> => {
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key) }));
      const text = (await res.Body?.transformToString('utf-8')) ?? '';
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
    } catch (err) {
      const code = awsCode(err);
      if (httpStatus(err) === 404 || code === 'NoSuchKey' || code === 'NotFound') return undefined;
      throw cloudError(`reading s3://${bucket}/${full(key)}`, err);
    }
  };
  return {
    create: (key, body) => putIfAbsent(client, bucket, full(key), JSON.stringify(body) + '\n', async () => (await read(key)) !== undefined),
    read,
    async list(keyPrefix, startAfter) {
      const keys = await listKeys(client, bucket, full(keyPrefix), startAfter !== undefined ? full(startAfter) : undefined);
      const out: { key: string; body: unknown }[] = [];
      for (const k of keys.sort()) {
        const body = await read(strip(k));
        if (body !== undefined) out.push({ key: strip(k), body });
      }
      return out;
    },
  };
}
