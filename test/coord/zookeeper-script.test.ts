/** scripts/zookeeper.sh: lint, usage, and status of a directory with no server (the start/stop path runs in the other ZooKeeper tests). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SCRIPT } from './zk-server.js';

test('zookeeper.sh passes shellcheck', () => {
  const r = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
  assert.ok(!r.error, 'shellcheck is not installed: apt-get install -y shellcheck (scripts/test-deps.sh)');
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('zookeeper.sh: usage errors exit 2; status and stop of a directory without a server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-zk-script-'));
  try {
    const sh = (...args: string[]) => spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8' });
    assert.equal(sh().status, 2);
    assert.equal(sh('frobnicate').status, 2);
    const bad = sh('start', '--port', 'http', '--dir', dir);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /not a whole number: http/);
    assert.equal(sh('start', '--port', '70000', '--dir', dir).status, 2);
    const st = sh('status', '--dir', dir);
    assert.equal(st.status, 3);
    assert.match(st.stdout, /not running/);
    const stop = sh('stop', '--dir', dir);
    assert.equal(stop.status, 0);
    assert.match(stop.stdout, /not running/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
