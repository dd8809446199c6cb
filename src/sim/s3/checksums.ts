/**
 * S3's object checksums: CRC32, CRC32C, CRC64NVME (table-driven, reflected), SHA-1, SHA-256,
 * SHA-512 and MD5. Values travel base64-encoded (`x-amz-checksum-crc32: 3ZGvkA==`), CRCs as
 * their big-endian bytes.
 */
import { createHash } from 'node:crypto';

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256' | 'SHA512' | 'MD5';

/** Algorithms the local cloud verifies, by the suffix of their `x-amz-checksum-*` header. */
export const CHECKSUM_HEADERS: Record<string, ChecksumAlgorithm> = {
  crc32: 'CRC32',
  crc32c: 'CRC32C',
  crc64nvme: 'CRC64NVME',
  sha1: 'SHA1',
  sha256: 'SHA256',
  sha512: 'SHA512',
  md5: 'MD5',
};

/** Algorithms S3 knows that the local cloud does not compute. */
export const UNSUPPORTED_CHECKSUMS = new Set(['xxhash64', 'xxhash3', 'xxhash128']);

/** Digest length in bytes, to validate the base64 value a client sends. */
export const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = {
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
  SHA512: 64,
  MD5: 16,
};

export function headerName(alg: ChecksumAlgorithm): string {
  return `x-amz-checksum-${alg.toLowerCase()}`;
}

function crc32Table(poly: number): Uint32Array {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
}

const CRC32_TABLE = crc32Table(0xedb88320);
const CRC32C_TABLE = crc32Table(0x82f63b78);

function crc32With(table: Uint32Array, data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function crc32(data: Uint8Array): number {
  return crc32With(CRC32_TABLE, data);
}

export function crc32c(data: Uint8Array): number {
  return crc32With(CRC32C_TABLE, data);
}

// CRC-64/NVME: reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout all ones. The 64-bit
// register is kept as two 32-bit halves so the inner loop needs no BigInt.
const CRC64_LO = new Uint32Array(256);
const CRC64_HI = new Uint32Array(256);
{
  const poly = 0x9a6c9329ac4bc9b5n;
  for (let i = 0; i < 256; i++) {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    CRC64_LO[i] = Number(c & 0xffffffffn);
    CRC64_HI[i] = Number(c >> 32n);
  }
}

/** CRC-64/NVME as 8 big-endian bytes. */
export function crc64nvme(data: Uint8Array): Buffer {
  let lo = 0xffffffff;
  let hi = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    const idx = (lo ^ data[i]!) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ CRC64_LO[idx]!) >>> 0;
    hi = ((hi >>> 8) ^ CRC64_HI[idx]!) >>> 0;
  }
  const out = Buffer.alloc(8);
  out.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0);
  out.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4);
  return out;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** The digest of `data` with `alg`, base64-encoded as S3 transmits it. */
export function checksum(alg: ChecksumAlgorithm, data: Uint8Array): string {
  switch (alg) {
    case 'CRC32':
      return u32(crc32(data)).toString('base64');
    case 'CRC32C':
      return u32(crc32c(data)).toString('base64');
    case 'CRC64NVME':
      return crc64nvme(data).toString('base64');
    case 'SHA1':
      return createHash('sha1').update(data).digest('base64');
    case 'SHA256':
      return createHash('sha256').update(data).digest('base64');
    case 'SHA512':
      return createHash('sha512').update(data).digest('base64');
    case 'MD5':
      return createHash('md5').update(data).digest('base64');
  }
}

/** True when `value` is canonical base64 of exactly `bytes` bytes. */
export function isBase64Of(value: string, bytes: number): boolean {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) return false;
  const buf = Buffer.from(value, 'base64');
  return buf.length === bytes && buf.toString('base64') === value;
}
