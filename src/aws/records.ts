/**
 * S3 adapter for small create-only JSON records under the journal bucket (pool memory, event
 * markers). Create-only through IfNoneMatch '*' (S3 answers 412 when the key exists; a racing
 * conditional write may get 409, which the SDK's caller sees as "exists": re-read decides).
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Records } from '../ports.js';
import { awsCode, cloudError, httpStatus } from './errors.js';

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
    async create(key, body) {
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: full(key), Body: JSON.stringify(body) + '\n', ContentType: 'application/json', IfNoneMatch: '*' }));
        return true;
      } catch (err) {
        const status = httpStatus(err);
        const code = awsCode(err);
        if (status === 412 || code === 'PreconditionFailed') return false;
        if (status === 409 || code === 'ConditionalRequestConflict') return (await read(key)) === undefined ? this.create(key, body) : false;
        throw cloudError(`writing s3://${bucket}/${full(key)}`, err);
      }
    },
    read,
    async list(keyPrefix, startAfter) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        let res;
        try {
          res = await client.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: full(keyPrefix), ...(token ? { ContinuationToken: token } : startAfter ? { StartAfter: full(startAfter) } : {}) }),
          );
        } catch (err) {
          throw cloudError(`listing s3://${bucket}/${full(keyPrefix)}`, err);
        }
        for (const o of res.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
        token = res.IsTruncated ? res.NextContinuationToken || undefined : undefined;
      } while (token);
      const out: { key: string; body: unknown }[] = [];
      for (const k of keys.sort()) {
        const body = await read(strip(k));
        if (body !== undefined) out.push({ key: strip(k), body });
      }
      return out;
    },
  };
}
