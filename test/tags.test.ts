/** The tag vocabulary is one module: no other source file spells a `fleet:` tag key itself. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHAOS_OPT_OUT, TAG } from '../src/tags.js';
import { CONVERGED_TAG, MOUNTED_TAG } from '../src/bootstrap/marker.js';

/** The repository (this file runs as dist/test/tags.test.js). */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

test('every tag key is distinct, and fleet keys are fleet:<lowercase word>', () => {
  const values = Object.values(TAG);
  assert.equal(new Set(values).size, values.length);
  for (const v of values) assert.ok(v === 'Name' || /^fleet:[a-z]+(-[a-z]+)*$/.test(v), v);
  assert.equal(TAG.standby, 'fleet:standby');
  assert.equal(TAG.chaos, 'fleet:chaos');
  assert.equal(CHAOS_OPT_OUT, 'opt-out');
  assert.equal(CONVERGED_TAG, TAG.converged);
  assert.equal(MOUNTED_TAG, TAG.mounted);
});

test('no source file outside src/tags.ts spells a fleet: tag key as a string literal', () => {
  const src = join(ROOT, 'src');
  const found: string[] = [];
  for (const file of sources(src)) {
    if (relative(src, file) === 'tags.ts') continue;
    // Code only: doc comments may name a key in backquotes.
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1');
    for (const m of text.matchAll(/['"`](fleet:[a-z-]+)['"`]/g)) found.push(`${relative(ROOT, file)}: ${m[1]}`);
    for (const m of text.matchAll(/\btag:fleet:[a-z-]+/g)) found.push(`${relative(ROOT, file)}: ${m[0]}`);
  }
  assert.deepEqual(found, [], 'use TAG from src/tags.ts');
});
