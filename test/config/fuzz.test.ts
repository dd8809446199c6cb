import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/index.js';

const example = readFileSync(fileURLToPath(new URL('../../../fleet.yaml', import.meta.url)), 'utf8');

/** Small deterministic PRNG (mulberry32), so a failure replays. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SNIPPETS = ['\t', ':', '-', ' ', '\n', '"', "'", '[', ']', '{', '}', '&a', '*a', '!!str ', '#', ',', '?', '|', '>', '0', 'x', '\u00e9', '\0', '---\n'];

test('mutated files either parse or give a ConfigError with positions, never a crash', () => {
  const next = rng(20261125);
  const lines = example.split('\n');
  for (let i = 0; i < 1500; i++) {
    let text: string;
    const kind = next();
    if (kind < 0.4) {
      const at = Math.floor(next() * example.length);
      text = example.slice(0, at) + SNIPPETS[Math.floor(next() * SNIPPETS.length)] + example.slice(at);
    } else if (kind < 0.7) {
      const at = Math.floor(next() * example.length);
      text = example.slice(0, at) + example.slice(at + 1 + Math.floor(next() * 5));
    } else {
      const copy = [...lines];
      copy.splice(Math.floor(next() * copy.length), 1);
      text = copy.join('\n');
    }
    try {
      parseConfig(text, 'fuzz.yaml');
    } catch (e) {
      assert.ok(e instanceof ConfigError, `case ${i}: ${String(e)}\n${text}`);
      for (const p of e.problems) {
        assert.ok(Number.isInteger(p.line) && p.line >= 1 && Number.isInteger(p.column) && p.column >= 1, `case ${i}: ${p.line}:${p.column}`);
        assert.ok(!p.message.includes('\u0000') && !/Invalid input/.test(p.message), `case ${i}: ${p.message}`);
      }
      const sorted = [...e.problems].sort((a, b) => a.line - b.line || a.column - b.column);
      assert.deepEqual(e.problems, sorted, `case ${i}: not in file order`);
    }
  }
});
