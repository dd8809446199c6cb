/**
 * The aws-chunked content encoding S3 accepts for streaming uploads (what the SDK sends for a
 * stream body with flexible checksums: `x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`,
 * `Content-Encoding: aws-chunked`, `x-amz-decoded-content-length`, `x-amz-trailer`):
 *
 *   <size-hex>[;chunk-signature=<sig>]\r\n<data>\r\n ... 0[;chunk-signature=...]\r\n
 *   <trailer-name>:<value>\r\n ... \r\n
 *
 * Decoded as S3 does: every chunk but the last must hold at least 8 KiB (InvalidChunkSizeError),
 * a broken frame is IncompleteBody, a broken trailer MalformedTrailerError. Chunk signatures
 * are not verified (the local cloud does not check signatures at all).
 */
import { AwsError } from '../types.js';

export const MIN_CHUNK_BYTES = 8192;

export interface Decoded {
  data: Buffer;
  /** Trailing headers by lowercased name. */
  trailers: Map<string, string>;
}

const CRLF = Buffer.from('\r\n');

function incomplete(): AwsError {
  return new AwsError('IncompleteBody', 'The request body terminated unexpectedly', 400);
}

function malformedTrailer(): AwsError {
  return new AwsError('MalformedTrailerError', 'The request contained trailing data that was not well-formed or did not conform to our published schema.', 400);
}

export function decodeAwsChunked(body: Buffer): Decoded {
  const parts: Buffer[] = [];
  let pos = 0;
  let chunkNo = 0;
  let prevSize = -1;
  for (;;) {
    const eol = body.indexOf(CRLF, pos);
    if (eol < 0) throw incomplete();
    const header = body.toString('latin1', pos, eol);
    pos = eol + 2;
    const sizeHex = header.split(';', 1)[0]!.trim();
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeHex)) throw incomplete();
    const size = parseInt(sizeHex, 16);
    chunkNo++;
    if (size > 0 && prevSize >= 0 && prevSize < MIN_CHUNK_BYTES) {
      throw new AwsError('InvalidChunkSizeError', `Only the last chunk is allowed to have a size less than ${MIN_CHUNK_BYTES} bytes`, 400, {
        Chunk: String(chunkNo),
        BadChunkSize: String(prevSize),
      });
    }
    if (size === 0) break;
    if (pos + size + 2 > body.length) throw incomplete();
    parts.push(body.subarray(pos, pos + size));
    pos += size;
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) throw incomplete();
    pos += 2;
    prevSize = size;
  }
  const trailers = new Map<string, string>();
  while (pos < body.length) {
    const eol = body.indexOf(CRLF, pos);
    const line = body.toString('utf8', pos, eol < 0 ? body.length : eol);
    pos = eol < 0 ? body.length : eol + 2;
    if (line === '') {
      if (pos < body.length && body.subarray(pos).toString('latin1').trim() !== '') throw malformedTrailer();
      break;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformedTrailer();
    trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { data: parts.length === 1 ? parts[0]! : Buffer.concat(parts), trailers };
}
