/** The app's entry (bin/app.ts) as users run it: bad input is one message and exit 2, and no template. */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { bundles, MINIMAL, ROOT } from './helpers.js';

const ENTRY = join(ROOT, 'infra', 'app', 'dist', 'infra', 'app', 'bin', 'app.js');

function run(yaml: string, context: Record<string, string> = {}): { status: number | null; stderr: string; wrote: boolean } {
  bundles();
  const dir = mkdtempSync(join(tmpdir(), 'fleet-entry-'));
  try {
    writeFileSync(join(dir, 'fleet.yaml'), yaml);
    const out = join(dir, 'out');
    const r = spawnSync(process.execPath, [ENTRY], {
      cwd: dir,
      env: { ...process.env, CDK_OUTDIR: out, CDK_CONTEXT_JSON: JSON.stringify({ fleetConfig: 'fleet.yaml', ...context }) },
      encoding: 'utf8',
    });
    return { status: r.status, stderr: r.stderr, wrote: existsSync(join(out, 'fleet-tiny.template.json')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a valid fleet.yaml (relative to where the app runs) synthesizes', () => {
  const r = run(MINIMAL, { hostedZoneId: 'Z0123456789ABCDEFGHIJ' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.wrote, true);
  assert.match(r.stderr, /synthesized fleet-tiny from fleet\.yaml/);
});

test('bad input: one message naming the problem and where, exit 2, no template', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    [MINIMAL.replace('count: 1', 'count: lots'), {}, /fleet\.yaml:\d+:\d+: roles\.hub\.count: expected a whole number/],
    // A cron EventBridge Scheduler cannot express is fleet.yaml's mistake, named at its line
    // when the file loads (MINIMAL has 16 lines: chaos: is line 17, the value at 18:13).
    [MINIMAL + 'chaos:\n  schedule: "0 3 1 * 1"\n', {}, /fleet\.yaml:18:13: chaos\.schedule: .*"0 3 1 \* 1" restricts both day-of-month and day-of-week/],
    [MINIMAL, { hostedZoneId: 'my-zone' }, /context hostedZoneId: "my-zone"/],
    [MINIMAL, { chaosTimezone: 'Mars/Olympus' }, /context chaosTimezone: "Mars\/Olympus" is not an IANA time zone/],
  ];
  for (const [yaml, ctx, re] of cases) {
    const r = run(yaml, ctx);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace for a user\'s mistake');
    assert.equal(r.wrote, false);
  }
});
