/**
 * The EC2 filter-value wildcard matcher (src/sim/wildcard.ts): `*`, `?` and backslash escapes
 * with the semantics the former RegExp translation had (checked against it on generated
 * cases), and linear-ish time however many stars a value has.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileWildcard, hasWildcard, WildcardSet } from '../../src/sim/wildcard.js';

/** The former translation (a backtracking RegExp), the reference for the semantics. */
function reference(pattern: string): RegExp {
  const esc = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += esc(pattern[++i]!);
    else if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else re += esc(c);
  }
  return new RegExp(`^${re}$`);
}

test('wildcard: literal characters, * and ?', () => {
  const cases: [string, string, boolean][] = [
    ['abc', 'abc', true],
    ['abc', 'abd', false],
    ['abc', 'ab', false],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ba', false],
    ['*c', 'abc', true],
    ['*c', 'abd', false],
    ['*', '', true],
    ['*', 'anything\nat all', true],
    ['**', '', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXcYb', false],
    ['a*b*c', 'abcbc', true],
    ['a*ab', 'aab', true],
    ['a*a', 'a', false],
    ['?', 'x', true],
    ['?', '', false],
    ['?', 'xy', false],
    ['a?c', 'abc', true],
    ['a?c', 'a\nc', true],
    ['?*?', 'ab', true],
    ['?*?', 'a', false],
    ['*?*?*', 'ab', true],
    ['t3.*', 't3.micro', true],
    ['t3.*', 't3xmicro', false],
    ['fuzz-*', 'fuzz-12', true],
    ['*-web-*', 'prod-web-03', true],
    ['*aba*', 'xxabxaba', true],
    ['*aba', 'ababa', true],
    ['ab*ba', 'aba', false],
  ];
  for (const [p, s, want] of cases) assert.equal(compileWildcard(p).test(s), want, `${JSON.stringify(p)} vs ${JSON.stringify(s)}`);
});

test('wildcard: backslash escapes', () => {
  assert.equal(compileWildcard('a\\*').test('a*'), true);
  assert.equal(compileWildcard('a\\*').test('ab'), false);
  assert.equal(compileWildcard('\\?').test('?'), true);
  assert.equal(compileWildcard('\\?').test('x'), false);
  assert.equal(compileWildcard('a\\\\b').test('a\\b'), true);
  assert.equal(compileWildcard('\\a').test('a'), true);
  // A trailing lone backslash is a literal backslash.
  assert.equal(compileWildcard('a\\').test('a\\'), true);
  assert.equal(compileWildcard('a\\').test('a'), false);
  assert.equal(compileWildcard('*\\*').test('five*'), true);
  assert.equal(compileWildcard('*\\*').test('five'), false);
  // Regex metacharacters are plain characters.
  assert.equal(compileWildcard('a.b*').test('a.bc'), true);
  assert.equal(compileWildcard('a.b*').test('axbc'), false);
  assert.equal(compileWildcard('(x|y)[z]^$+{1}/-?').test('(x|y)[z]^$+{1}/-!'), true);
});

test('wildcard: agrees with the former RegExp translation on generated cases', () => {
  let seed = 0x9e3779b9;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return seed % n;
  };
  const patAlphabet = ['a', 'b', '*', '?', '\\', '.', '\n'];
  const textAlphabet = ['a', 'b', '*', '?', '\\', '.', '\n'];
  for (let n = 0; n < 20_000; n++) {
    let p = '';
    for (let i = rnd(8); i > 0; i--) p += patAlphabet[rnd(patAlphabet.length)];
    let s = '';
    for (let i = rnd(9); i > 0; i--) s += textAlphabet[rnd(textAlphabet.length)];
    assert.equal(compileWildcard(p).test(s), reference(p).test(s), `${JSON.stringify(p)} vs ${JSON.stringify(s)}`);
  }
});

test('wildcard: many stars take linear-ish work, not exponential', () => {
  // Counted, not timed: character comparisons stay within text length x pattern length (the
  // documented worst case), where a backtracking matcher would need exponentially many.
  const text = 'abcdefghijklmnopqrstuvwxyz'.repeat(40);
  for (const pattern of [`${'*'.repeat(40)}X`, `${'*a'.repeat(200)}X`, `${'?*'.repeat(300)}X`, `*${'a*'.repeat(50)}`]) {
    const { match, compared } = compileWildcard(pattern).measure(text);
    assert.equal(match, false, pattern.slice(0, 20));
    assert.equal(compileWildcard(pattern).test(text), false);
    assert.ok(compared <= text.length * pattern.length, `${JSON.stringify(pattern.slice(0, 20))}...: ${compared} comparisons`);
  }
  const long = 'a'.repeat(10_000);
  const pattern = `${'*a'.repeat(1000)}*b`;
  const { match, compared } = compileWildcard(pattern).measure(long);
  assert.equal(match, false);
  // The last segment fails at once at the anchored end: a few comparisons, not 10,000 x 2,002.
  assert.ok(compared <= long.length + pattern.length, `${compared} comparisons`);
});

test('WildcardSet: exact values through the set, wildcards one by one; any match', () => {
  assert.equal(hasWildcard('plain'), false);
  assert.equal(hasWildcard('a*'), true);
  assert.equal(hasWildcard('a?'), true);
  assert.equal(hasWildcard('a\\b'), true);
  const s = new WildcardSet(['running', 'stopp*', 'a\\*']);
  assert.equal(s.isExact, false);
  assert.equal(s.test('running'), true);
  assert.equal(s.test('stopped'), true);
  assert.equal(s.test('stopping'), true);
  assert.equal(s.test('a*'), true);
  assert.equal(s.test('ab'), false);
  assert.equal(s.test('pending'), false);
  assert.equal(s.test(undefined), false);
  const exact = new WildcardSet(['x', 'y']);
  assert.equal(exact.isExact, true);
  assert.equal(exact.test('y'), true);
  assert.equal(exact.test('z'), false);
  assert.equal(new WildcardSet([]).test('x'), false);
});
