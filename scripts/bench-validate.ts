/**
 * `fleet validate` on hostile files at the size limit: wall time, CPU time and peak memory of
 * the CLI, each as a ratio to validating the worked example fleet.yaml (the floor: Node's
 * start and the loader). The regression tests bound these by killing a run past its bound
 * (test/config/fuzz.test.ts); here they are figures, so a slowdown shows as a ratio.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mb, printTable, root, runFleet } from './bench-common.js';
import { MAX_CONFIG_BYTES } from '../src/config/limits.js';

export async function benchValidate(): Promise<void> {
  const example = readFileSync(join(root, 'fleet.yaml'), 'utf8');
  const minimal = readFileSync(join(root, 'test', 'fixtures', 'config', 'minimal.yaml'), 'utf8');
  const fill = (head: string, line: (i: number) => string): string => {
    let s = head;
    for (let i = 0; s.length < MAX_CONFIG_BYTES - 64; i++) s += line(i);
    return s;
  };
  const cases: [string, string][] = [
    ['worked example (floor)', example],
    ['unknown keys, 256 KiB', fill(minimal, (i) => `k${i}: 1\n`)],
    ['duplicate list items, 256 KiB', minimal + 'chaos:\n  opt-out: [' + Array(Math.floor((MAX_CONFIG_BYTES - minimal.length - 40) / 2)).fill('x').join(',') + ']\n'],
    ['nesting 100,000 deep', minimal + 'x: ' + '['.repeat(100_000) + ']'.repeat(100_000) + '\n'],
    ['valid roles, 256 KiB', fill(minimal.replace(/roles:[\s\S]*/, 'dns:\n  record-quota: 1000000\n').replace(/dns:\n  zone: (.*)\n([\s\S]*)dns:\n  record-quota: 1000000\n/, 'dns:\n  zone: $1\n  record-quota: 1000000\n$2') + 'roles:\n  hub:\n    count: 1\n    type: t3.small\n', (i) => `  r${i}x:\n    count: 1\n    type: t3.small\n`)],
    ['50 MB file (size limit)', minimal + '#' + 'x'.repeat(50 * 1024 * 1024) + '\n'],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'fleet-bench-validate-'));
  const rows: Record<string, string | number>[] = [];
  let floor: { ms: number; cpuMs: number } | undefined;
  for (const [name, text] of cases) {
    const file = join(dir, `${rows.length}.yaml`);
    writeFileSync(file, text);
    const r = await runFleet(['validate', '--config', file], {});
    floor ??= { ms: r.ms, cpuMs: r.cpuMs };
    rows.push({
      case: name,
      bytes: Buffer.byteLength(text),
      exit: r.code,
      'wall ms': Math.round(r.ms),
      'wall / floor': (r.ms / floor.ms).toFixed(2),
      'cpu / floor': floor.cpuMs > 0 ? (r.cpuMs / floor.cpuMs).toFixed(2) : '?',
      'peak RSS': mb(r.maxRssBytes),
    });
  }
  console.log('fleet validate on hostile files — CLI wall and CPU time as ratios to the worked example, peak memory');
  printTable(rows, ['case']);
}
