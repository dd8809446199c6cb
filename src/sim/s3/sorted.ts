/**
 * The key index of one S3 bucket: keys in UTF-8 binary order (the order ListObjects returns),
 * kept in a list of small sorted chunks so that an insert or a delete costs O(log N + chunk)
 * and a listing resumes at any key by binary search. Listing N keys in pages is linear overall.
 */

/** Max keys per chunk; a full chunk splits in two. */
const CHUNK = 512;

/**
 * Compare two strings in UTF-8 byte order (= code point order). JavaScript's `<` compares
 * UTF-16 code units, which disagrees only when a surrogate (a code point above U+FFFF) meets
 * a code unit in U+E000..U+FFFF; ranking code units fixes that without encoding anything.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

function rank(u: number): number {
  if (u >= 0xd800 && u <= 0xdfff) return u + 0x2000;
  if (u >= 0xe000) return u - 0x800;
  return u;
}

/** A position in the index: chunk number and offset. `ci === chunks.length` is the end. */
export interface Cursor {
  ci: number;
  off: number;
}

export class SortedKeys {
  #chunks: string[][] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Insert `key`; false when it is already there. */
  insert(key: string): boolean {
    if (this.#chunks.length === 0) {
      this.#chunks.push([key]);
      this.#size = 1;
      return true;
    }
    // The chunk to insert into: the last chunk whose first key is <= key (or the first chunk).
    let lo = 0;
    let hi = this.#chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (compareUtf8(this.#chunks[mid]![0]!, key) <= 0) lo = mid;
      else hi = mid - 1;
    }
    const chunk = this.#chunks[lo]!;
    const at = lowerBoundIn(chunk, key);
    if (at < chunk.length && chunk[at] === key) return false;
    chunk.splice(at, 0, key);
    this.#size++;
    if (chunk.length > CHUNK) {
      const tail = chunk.splice(CHUNK >> 1);
      this.#chunks.splice(lo + 1, 0, tail);
    }
    return true;
  }

  /** Remove `key`; false when it was not there. */
  delete(key: string): boolean {
    const c = this.lowerBound(key);
    const chunk = this.#chunks[c.ci];
    if (!chunk || chunk[c.off] !== key) return false;
    chunk.splice(c.off, 1);
    this.#size--;
    if (chunk.length === 0) this.#chunks.splice(c.ci, 1);
    return true;
  }

  /**
   * The first position whose key does NOT satisfy `before`. `before` must hold for a (possibly
   * empty) leading run of the keys and fail for all keys after it.
   */
  seek(before: (key: string) => boolean): Cursor {
    const chunks = this.#chunks;
    let lo = 0;
    let hi = chunks.length;
    // First chunk whose last key fails `before`.
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = chunks[mid]!;
      if (before(c[c.length - 1]!)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === chunks.length) return { ci: lo, off: 0 };
    const c = chunks[lo]!;
    let a = 0;
    let b = c.length - 1;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (before(c[mid]!)) a = mid + 1;
      else b = mid;
    }
    return { ci: lo, off: a };
  }

  /** First key >= `key`. */
  lowerBound(key: string): Cursor {
    return this.seek((k) => compareUtf8(k, key) < 0);
  }

  /** First key > `key`. */
  upperBound(key: string): Cursor {
    return this.seek((k) => compareUtf8(k, key) <= 0);
  }

  /** First key that neither sorts before `prefix` nor starts with it. */
  pastPrefix(prefix: string): Cursor {
    return this.seek((k) => k.startsWith(prefix) || compareUtf8(k, prefix) < 0);
  }

  /** The key at a cursor, or undefined at the end. */
  at(c: Cursor): string | undefined {
    return this.#chunks[c.ci]?.[c.off];
  }

  /** The cursor after `c`. */
  next(c: Cursor): Cursor {
    const chunk = this.#chunks[c.ci];
    if (!chunk) return c;
    if (c.off + 1 < chunk.length) return { ci: c.ci, off: c.off + 1 };
    return { ci: c.ci + 1, off: 0 };
  }

  /** The later of two cursors. */
  max(a: Cursor, b: Cursor): Cursor {
    if (a.ci !== b.ci) return a.ci > b.ci ? a : b;
    return a.off >= b.off ? a : b;
  }

  *keys(): IterableIterator<string> {
    for (const chunk of this.#chunks) yield* chunk;
  }
}

function lowerBoundIn(arr: string[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareUtf8(arr[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
