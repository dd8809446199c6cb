/**
 * Shell checks in CI: `sh -n` and `shellcheck` on the user-data fleet renders for every role
 * of the example fleet.yaml (what cloud-init really runs), and shellcheck on every shell
 * script in scripts/ (with the shell its shebang names).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { renderUserData } from '../../src/bootstrap/userdata.js';
import { loadConfig } from '../../src/config/index.js';
import { desiredNames } from '../../src/naming.js';
import { REPO, need } from './sandbox.js';

const dir = mkdtempSync(join(tmpdir(), 'fleet-cf-lint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the user-data of every role of fleet.yaml passes sh -n and shellcheck -s sh', async () => {
  need('shellcheck');
  const spec = await loadConfig(join(REPO, 'fleet.yaml'));
  const names = desiredNames(spec);
  const roles = spec.roles.map((r) => r.name);
  assert.ok(roles.length >= 4, 'the example fleet has its roles');
  const problems: string[] = [];
  for (const role of roles) {
    // The first name of each role (hub-01 is the hub itself: it bootstraps to its own address).
    const name = names.find((n) => n.role === role);
    assert.ok(name, `role ${role} has a name`);
    const file = join(dir, `${name.name}.sh`);
    writeFileSync(file, renderUserData({ spec, name: name.name, generation: 1 }));
    const syn = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
    if (syn.status !== 0) problems.push(`sh -n ${name.name}: ${syn.stderr}`);
    const sc = spawnSync('shellcheck', ['-s', 'sh', file], { encoding: 'utf8' });
    if (sc.status !== 0) problems.push(`shellcheck ${name.name}:\n${sc.stdout}${sc.stderr}`);
  }
  assert.deepEqual(problems, []);
});

test('every shell script in scripts/ passes shellcheck', () => {
  need('shellcheck');
  const scriptsDir = join(REPO, 'scripts');
  const scripts = readdirSync(scriptsDir)
    .filter((f) => f.endsWith('.sh') || /^#!.*\b(ba|da)?sh\b/.test(readFileSync(join(scriptsDir, f), 'utf8').split('\n', 1)[0] ?? ''))
    .sort();
  assert.ok(scripts.includes('check-policy.sh'), scripts.join(' '));
  const problems: string[] = [];
  for (const s of scripts) {
    const sc = spawnSync('shellcheck', ['-x', join(scriptsDir, s)], { encoding: 'utf8', cwd: scriptsDir });
    if (sc.status !== 0) problems.push(`shellcheck scripts/${s}:\n${sc.stdout}${sc.stderr}`);
  }
  assert.deepEqual(problems, []);
});

test('every shell script the policy installs (templates with a sh shebang) passes sh -n and shellcheck', () => {
  need('shellcheck');
  const templates = join(REPO, 'infra', 'cfengine', 'templates');
  const shells = readdirSync(templates, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.mustache') && /^#!\/bin\/sh\b/.test(readFileSync(join(templates, f), 'utf8').split('\n', 1)[0] ?? ''))
    .sort();
  assert.ok(shells.includes('fleet-report-mounted.mustache'), shells.join(' '));
  const problems: string[] = [];
  for (const f of shells) {
    // No mustache tag in them: what the agent renders is the file itself.
    const text = readFileSync(join(templates, f), 'utf8');
    if (/\{\{/.test(text)) problems.push(`${f}: has a mustache tag`);
    const syn = spawnSync('sh', ['-n', join(templates, f)], { encoding: 'utf8' });
    if (syn.status !== 0) problems.push(`sh -n ${f}: ${syn.stderr}`);
    const sc = spawnSync('shellcheck', ['-s', 'sh', join(templates, f)], { encoding: 'utf8' });
    if (sc.status !== 0) problems.push(`shellcheck ${f}:\n${sc.stdout}${sc.stderr}`);
  }
  assert.deepEqual(problems, []);
});
