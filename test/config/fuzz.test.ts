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

// ---- hostile files, through the real CLI under a time and memory bound -------------------

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DEFAULT_RECORD_QUOTA, MAX_CONFIG_BYTES, MAX_DEPTH, MAX_PROBLEMS } from '../../src/config/limits.js';

const BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const minimal = readFileSync(fileURLToPath(new URL('../../../test/fixtures/config/minimal.yaml', import.meta.url)), 'utf8');
/** The bound a run must stay within, else it is killed and the case fails: generous for a busy 2-core machine, far below what the unbounded loader took (minutes, gigabytes). */
const HEAP_MB = 256;
const KILL_AFTER_MS = 90_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  killed: boolean;
}

/** `fleet validate -c <file>` in a child with a heap cap; killed (and failed) past KILL_AFTER_MS. */
function validate(file: string, command: string[] = ['validate']): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, BIN, ...command, '-c', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '' } });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, KILL_AFTER_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, killed });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'fleet-hostile-'));
function write(name: string, content: string | Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

const withChaos = (body: string) => minimal + 'chaos:\n' + body;
const lines = (n: number, line: (i: number) => string) => Array.from({ length: n }, (_, i) => line(i)).join('\n') + '\n';
const manyRoles = (n: number, count: number, quota?: number) =>
  minimal.replace(/roles:[\s\S]*/, '').replace('hub: hub-01', 'hub: hub-000001').replace(/dns:\n  zone: (.*)\n/, (_m, z: string) => `dns:\n  zone: ${z}\n${quota !== undefined ? `  record-quota: ${quota}\n` : ''}naming:\n  index-digits: 6\n`) +
  'roles:\n  hub:\n    count: 1\n    type: t3.small\n' +
  lines(n, (i) => `  r${i}x:\n    count: ${count}\n    type: t3.small`);

interface HostileCase {
  name: string;
  content: () => string | Buffer;
  /** The problem expected, as `line:column message-regex`; the line and column are checked exactly. */
  at: [line: number, column: number] | 'any';
  message: RegExp;
}

const CASES: HostileCase[] = [
  { name: 'depth: 5,000 nested flow lists in 10 KB', content: () => minimal + 'x: ' + '['.repeat(5000) + ']'.repeat(5000) + '\n', at: [20, 3 + MAX_DEPTH], message: new RegExp(`nested more than ${MAX_DEPTH} levels deep`) },
  { name: 'depth: nested block mappings', content: () => minimal + 'x:\n' + lines(200, (i) => ' '.repeat(i + 1) + 'a:') , at: 'any', message: /nested more than 32 levels deep/ },
  { name: 'depth: nested block lists on one line', content: () => minimal + 'x:\n  ' + '- '.repeat(3000) + '1\n', at: 'any', message: /nested more than 32 levels deep/ },
  { name: 'depth: nested flow mappings', content: () => minimal + 'x: ' + '{a: '.repeat(3000) + '1' + '}'.repeat(3000) + '\n', at: 'any', message: /nested more than 32 levels deep/ },
  { name: 'size: a 50 MB list', content: () => Buffer.concat([Buffer.from(minimal + 'x: [\n'), Buffer.alloc(50 * 1024 * 1024, '  1,\n'), Buffer.from(']\n')]), at: 'any', message: /the file is 52,4\d\d,\d\d\d bytes; fleet.yaml may be at most 262,144 bytes/ },
  { name: 'size: a 1 MB fleet name', content: () => minimal.replace('fleet: tiny', 'fleet: ' + 'a'.repeat(1 << 20)), at: [2, MAX_CONFIG_BYTES - minimal.indexOf('fleet: tiny') - 'fleet: '.length + 8 + 1 - 1], message: /the file is 1,048,\d\d\d bytes/ },
  { name: 'count: 150 roles of 100,000 names in 12 KB', content: () => manyRoles(150, 100_000), at: [19, 12], message: /the roles declare 15,000,001 names in all \(role r0x brings them past the limit\); a Route 53 hosted zone holds 10,000 record sets by default, 2 of them the zone's SOA and NS, so at most 9,998 names/ },
  { name: 'count: past a raised dns.record-quota', content: () => manyRoles(3, 10_000, 25_000), at: [26, 12], message: /the roles declare 30,001 names in all \(role r2x brings them past the limit\); dns.record-quota is 25,000 record sets/ },
  { name: 'duplicates: 130,000 entries of a list', content: () => withChaos('  opt-out: [' + Array(130_000).fill('x').join(',') + ']\n'), at: [21, 13], message: /opt-out names "x", which is not a declared role/ },
  { name: 'unknown keys at scale', content: () => { let s = minimal; for (let i = 0; s.length < MAX_CONFIG_BYTES - 20; i++) s += `k${i}: 1\n`; return s; }, at: [20, 1], message: /unknown key 'k0'/ },
  { name: 'non-UTF-8: a Latin-1 byte deep in the file', content: () => { const b = Buffer.from(minimal + lines(50, (i) => `# comment ${i}`) + '# caf\u0000\n'); b[b.length - 2] = 0xe9; return b; }, at: [70, 6], message: /byte 0xE9 is not UTF-8/ },
  { name: 'a long value is quoted by a short prefix', content: () => minimal.replace('tiny-journal', 'j'.repeat(200_000)), at: [7, 11], message: /bucket name "j{57}\.\.\."/ },
  { name: 'a long key is quoted by a short prefix', content: () => minimal + 'roles2:\n  ' + 'k'.repeat(1000) + ': 1\n', at: [20, 1], message: /unknown key 'roles2' \(did you mean 'roles'\?\)/ },
];

for (const c of CASES) {
  test(`hostile fleet.yaml, ${c.name}: exit 2 with a location, within ${HEAP_MB} MB of heap`, async () => {
    const file = write(c.name.replace(/[^a-z0-9]+/gi, '-') + '.yaml', c.content());
    const r = await validate(file);
    assert.equal(r.killed, false, `killed after ${KILL_AFTER_MS} ms`);
    assert.equal(r.code, 2, `exit ${r.code} (signal ${r.signal}); stderr: ${r.stderr.slice(0, 2000)}`);
    assert.ok(!/RangeError|heap|at .*\.js:\d+/.test(r.stderr), r.stderr.slice(0, 2000));
    // Bounded output: at most MAX_PROBLEMS problems plus a count, no value quoted whole.
    const problems = r.stderr.split('\n').filter((l) => l.startsWith(`  ${file}:`));
    assert.ok(problems.length >= 1 && problems.length <= MAX_PROBLEMS + 1, `${problems.length} problems`);
    // A line is the file's path, the key's path and a message naming the keys allowed there (300 characters at most).
    assert.ok(r.stderr.length < 300 * (MAX_PROBLEMS + 2), `stderr is ${r.stderr.length} characters`);
    const first = new RegExp(`^  ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+): (.*)$`).exec(problems[0]!);
    assert.ok(first, problems[0]);
    assert.match(first[3]!, c.message);
    if (c.at !== 'any') assert.deepEqual([Number(first[1]), Number(first[2])], c.at, first[0]);
  });
}

test('apply and plan refuse a hostile file the same way, before any AWS call (no endpoint is even configured)', async () => {
  const file = write('deep-apply.yaml', minimal + 'x: ' + '['.repeat(5000) + ']'.repeat(5000) + '\n');
  for (const command of [['apply', '--yes'], ['plan']]) {
    const r = await validate(file, command);
    assert.equal(r.killed, false);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /deep-apply\.yaml:20:35: nested more than 32 levels deep/);
  }
});

test('a raised dns.record-quota admits more names than the default', async () => {
  const file = write('raised.yaml', manyRoles(2, 6_000, 20_000));
  const r = await validate(file);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /12001 names/);
  assert.ok(DEFAULT_RECORD_QUOTA < 12_001);
});

test('parseConfig bounds its text too: too large, too deep, too many problems', () => {
  const big = minimal + '#' + 'x'.repeat(MAX_CONFIG_BYTES) + '\n';
  assert.throws(() => parseConfig(big, 'big.yaml'), (e: unknown) => e instanceof ConfigError && e.problems.length === 1 && /may be at most 262,144 bytes/.test(e.problems[0]!.message) && e.problems[0]!.line === 20);
  const deep = minimal + 'x: ' + '['.repeat(40) + ']'.repeat(40) + '\n';
  assert.throws(() => parseConfig(deep, 'deep.yaml'), (e: unknown) => e instanceof ConfigError && e.problems[0]!.line === 20 && /nested more than 32/.test(e.problems[0]!.message));
  // Exactly at the limit is fine.
  const ok = minimal + 'chaos:\n  opt-out: ' + '['.repeat(MAX_DEPTH - 2) + ']'.repeat(MAX_DEPTH - 2) + '\n';
  assert.throws(() => parseConfig(ok, 'ok.yaml'), (e: unknown) => e instanceof ConfigError && !e.problems.some((p) => /nested/.test(p.message)));
  let keys = minimal;
  for (let i = 0; i < 500; i++) keys += `k${i}: 1\n`;
  assert.throws(() => parseConfig(keys, 'keys.yaml'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.problems.length, MAX_PROBLEMS + 1);
    assert.equal(e.problems[MAX_PROBLEMS]!.message, `and 400 more problems from here on (the first ${MAX_PROBLEMS} are listed)`);
    assert.equal(e.problems[MAX_PROBLEMS]!.line, 20 + MAX_PROBLEMS);
    return true;
  });
});
