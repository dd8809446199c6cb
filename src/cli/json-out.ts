/**
 * `--json` output without building the whole document as one string: a 100,000-name inventory
 * is ~100 MB of JSON, and `JSON.stringify` of it (plus the copy the stream makes) doubled the
 * CLI's peak memory. The document is written in pieces of about 64 KiB, each array element
 * stringified on its own and indented to its depth; the bytes are exactly those of
 * `JSON.stringify(value, null, 2) + '\n'` (test/cli/json-out.test.ts).
 */

const CHUNK = 64 * 1024;

/** Array elements stringified per call: big enough that JSON.stringify does the work, small enough to stay a piece. */
const ELEMENTS_PER_PIECE = 256;

/**
 * The elements `from..to` of an array at indentation `pad`, as `JSON.stringify(value, null, 2)`
 * writes them, in one native call: the slice is nested in as many single-key objects as `pad`
 * has levels, so the elements come out already indented to their depth, and the wrapping lines
 * (as many at each end as there are levels, plus one) are cut off.
 */
function elementsPiece(value: readonly unknown[], from: number, to: number, pad: string): string {
  let wrapped: unknown = value.slice(from, to);
  const levels = pad.length / 2;
  for (let d = 0; d < levels; d++) wrapped = { '': wrapped };
  const s = JSON.stringify(wrapped, null, 2);
  let start = 0;
  for (let d = 0; d <= levels; d++) start = s.indexOf('\n', start) + 1;
  let end = s.length;
  for (let d = 0; d <= levels; d++) end = s.lastIndexOf('\n', end - 1);
  return s.slice(start, end);
}

/** The pieces of `JSON.stringify(value, null, 2)`, in order. */
export function* jsonPieces(value: unknown, pad = ''): Generator<string> {
  if (Array.isArray(value) && value.length > 0) {
    yield '[\n';
    for (let i = 0; i < value.length; i += ELEMENTS_PER_PIECE) {
      const to = Math.min(value.length, i + ELEMENTS_PER_PIECE);
      yield elementsPiece(value, i, to, pad) + (to < value.length ? ',\n' : '\n');
    }
    yield pad + ']';
    return;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && typeof (value as { toJSON?: unknown }).toJSON !== 'function') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol');
    if (entries.length === 0) {
      yield '{}';
      return;
    }
    const inner = pad + '  ';
    yield '{\n';
    for (let i = 0; i < entries.length; i++) {
      const [k, v] = entries[i]!;
      yield `${inner}${JSON.stringify(k)}: `;
      yield* jsonPieces(v, inner);
      yield i < entries.length - 1 ? ',\n' : '\n';
    }
    yield pad + '}';
    return;
  }
  const s = JSON.stringify(value, null, 2);
  yield s === undefined ? 'null' : s.includes('\n') ? s.replace(/\n/g, '\n' + pad) : s;
}

/** A stream that says when its buffer is full (process.stdout); a plain writer never waits. */
interface Writer {
  write(s: string): unknown;
  once?(event: 'drain', fn: () => void): unknown;
}

/**
 * Write `pieces` to `out` gathered into writes of about 64 KiB, waiting for 'drain' whenever
 * the stream's buffer is full: stdout to a pipe whose reader is slower would otherwise hold
 * the whole output in memory after all.
 */
export async function writePieces(out: Writer, pieces: Iterable<string>): Promise<void> {
  let buf = '';
  for (const piece of pieces) {
    buf += piece;
    if (buf.length >= CHUNK) {
      const more = out.write(buf);
      buf = '';
      if (more === false && out.once) await new Promise<void>((resolve) => out.once!('drain', resolve));
    }
  }
  if (buf) out.write(buf);
}

/** Write `JSON.stringify(value, null, 2) + '\n'` to `out` in pieces (writePieces). */
export async function writeJson(out: Writer, value: unknown): Promise<void> {
  await writePieces(out, (function* () {
    yield* jsonPieces(value);
    yield '\n';
  })());
}
