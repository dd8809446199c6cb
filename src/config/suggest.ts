/** "Did you mean" suggestions by edit distance. Pure. */

/**
 * Optimal string alignment distance: Levenshtein plus adjacent transpositions (cuont -> count is 1).
 * Three rolling rows, not a table: a key of every unknown key in a large file costs no garbage.
 */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let prev2 = new Int32Array(n + 1);
  let prev = new Int32Array(n + 1);
  let cur = new Int32Array(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a.charCodeAt(i - 1) === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === b.charCodeAt(j - 1)) v = Math.min(v, prev2[j - 2]! + 1);
      cur[j] = v;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[n]!;
}

/**
 * The candidate closest to `word`, when it is close enough to be a plausible typo:
 * same word in another case, or at most 1 edit for short words, 2 for words of 5+ characters,
 * 3 for words of 9+. Ties go to the earlier candidate, so the result is deterministic.
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const sameCase = candidates.find((c) => c.toLowerCase() === lower);
  if (sameCase !== undefined && sameCase !== word) return sameCase;
  const limit = word.length >= 9 ? 3 : word.length >= 5 ? 2 : 1;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (c === word) continue;
    // The distance is at least the difference in length: skip the quadratic table when that
    // alone rules the candidate out (a 1 MB key costs nothing then).
    if (Math.abs(c.length - word.length) > limit) continue;
    const dist = editDistance(lower, c.toLowerCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
