/**
 * `--json` output without building the whole document as one string: a 100,000-name inventory
 * is ~100 MB of JSON, and `JSON.stringify` of it (plus the copy the stream makes) doubled the
 * CLI's peak memory. The document is written in pieces of about 64 KiB, each array element
 * stringified on its own and indented to its depth; the bytes are exactly those of
 * `JSON.stringify(value, null, 2) + '\n'` (test/cli/json-out.test.ts).
 */

const CHUNK = 64 * 1024;

/** The pieces of `JSON.stringify(value, null, 2)`, in order. */
export function* jsonPieces(value: unknown, pad = ''): Generator<string> {
  if (Array.isArray(value) && value.length > 0) {
    const inner = pad + '  ';
    yield '[\n';
    for (let i = 0; i < value.length; i++) {
      // JSON.stringify writes null for what it cannot represent inside an array.
      const el = JSON.stringify(value[i], null, 2) ?? 'null';
      yield inner + (el.includes('\n') ? el.replace(/\n/g, '\n' + inner) : el) + (i < value.length - 1 ? ',\n' : '\n');
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
 * Write `JSON.stringify(value, null, 2) + '\n'` to `out` in pieces of about 64 KiB, waiting
 * for 'drain' whenever the stream's buffer is full: stdout to a pipe whose reader is slower
 * would otherwise hold the whole document in memory after all.
 */
export async function writeJson(out: Writer, value: unknown): Promise<void> {
  let buf = '';
  for (const piece of jsonPieces(value)) {
    buf += piece;
    if (buf.length >= CHUNK) {
      const more = out.write(buf);
      buf = '';
      if (more === false && out.once) await new Promise<void>((resolve) => out.once!('drain', resolve));
    }
  }
  out.write(buf + '\n');
}
