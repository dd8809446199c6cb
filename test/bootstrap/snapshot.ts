/**
 * A tiny snapshot helper: compares text with a committed file under test/fixtures/bootstrap/.
 * With UPDATE_SNAPSHOTS=1 in the environment it (re)writes the file instead.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file runs as dist/test/bootstrap/snapshot.js. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'bootstrap');

const HINT = 'to accept the new output: UPDATE_SNAPSHOTS=1 node --test dist/test/bootstrap/ (then review git diff test/fixtures/bootstrap)';

export function matchSnapshot(actual: string, file: string): void {
  const path = join(FIXTURES, file);
  const shown = relative(ROOT, path);
  if (process.env['UPDATE_SNAPSHOTS'] === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) assert.fail(`snapshot ${shown} is missing; ${HINT}`);
  const expected = readFileSync(path, 'utf8');
  if (expected === actual) return;
  const a = actual.split('\n');
  const e = expected.split('\n');
  let i = 0;
  while (i < a.length && i < e.length && a[i] === e[i]) i++;
  assert.fail(
    `output differs from snapshot ${shown} at line ${i + 1}:\n` +
      `  snapshot: ${JSON.stringify(e[i] ?? '<end of file>')}\n` +
      `  actual:   ${JSON.stringify(a[i] ?? '<end of file>')}\n${HINT}`,
  );
}
