/** writeJson writes exactly the bytes of JSON.stringify(value, null, 2) + '\n', in pieces. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeJson } from '../../src/cli/json-out.js';

const cases: [string, unknown][] = [
  ['a scalar', 42],
  ['a string with newlines', 'a\nb'],
  ['null', null],
  ['an empty object and array', { a: {}, b: [] }],
  ['undefined and function members are left out', { a: undefined, b: () => 1, c: 1 }],
  ['undefined inside an array is null', [1, undefined, 'x']],
  ['dates and nested arrays', { at: new Date('2026-12-07T05:00:00Z'), rows: [{ name: 'web-01', values: ['10.0.0.1'], problems: [] }, { name: 'web-02', nested: { deep: [[1, 2], []] } }] }],
  ['a top-level array longer than one piece', Array.from({ length: 600 }, (_, i) => (i % 3 ? { i, at: new Date(i * 1000), f: () => 1 } : i % 2 ? undefined : [i, 'a\nb']))],
  ['arrays nested in arrays and objects, deeper than one level', { a: { b: [{ c: { d: Array.from({ length: 300 }, (_, i) => ({ e: [i, { f: [] }], g: {} })) } }, [], [[]]] } }],
  ['an array element with toJSON', { rows: [{ toJSON: () => ({ replaced: true }) }, 1] }],
  ['a large inventory-like document', { fleet: 'f', rows: Array.from({ length: 5000 }, (_, i) => ({ name: `web-${i}`, record: { ttl: 60, values: [`10.0.${i >> 8}.${i & 255}`] }, problems: i % 7 ? [] : [{ kind: 'orphan', message: 'x "quoted"' }] })), summary: { names: 5000 } }],
];

for (const [what, value] of cases) {
  test(`writeJson: ${what}`, async () => {
    const pieces: string[] = [];
    await writeJson({ write: (s: string) => pieces.push(s) }, value);
    assert.equal(pieces.join(''), JSON.stringify(value, null, 2) + '\n');
    for (const p of pieces.slice(0, -1)) assert.ok(p.length < 200 * 1024, 'written in pieces');
  });
}

test('writeJson waits for drain when the stream says its buffer is full', async () => {
  const pieces: string[] = [];
  let drains = 0;
  const value = { rows: Array.from({ length: 20_000 }, (_, i) => ({ name: `web-${i}`, values: ['10.0.0.1'] })) };
  await writeJson(
    {
      write: (s: string) => {
        pieces.push(s);
        return false; // always full
      },
      once: (_event: 'drain', fn: () => void) => {
        drains++;
        setImmediate(fn);
      },
    },
    value,
  );
  assert.equal(pieces.join(''), JSON.stringify(value, null, 2) + '\n');
  assert.equal(drains, pieces.length - 1, 'waited after every full piece');
});
