#!/usr/bin/env node
// Runs every test (compiled to dist/test) with Node's own test runner.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'dist', 'test');
if (!existsSync(dir)) {
  console.error('run-tests: dist/test is missing; the build did not run');
  process.exit(1);
}
// The layering (DESIGN.md section 5) is part of the suite: dependency-cruiser with the rules of
// .dependency-cruiser.cjs. A full run checks it first and prints every violation; the tests
// still run (one report for both), and the run fails if either failed. A run of chosen test
// files (arguments given) skips it.
let layering = 0;
if (process.argv.length <= 2) {
  const cli = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
  const dc = spawnSync(process.execPath, [cli, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err-long'], { cwd: root, stdio: 'inherit' });
  layering = dc.status ?? 1;
  if (layering !== 0) console.error('run-tests: the layering check failed (violations above; rules in .dependency-cruiser.cjs, rerun with `npm run lint:deps`)');
}
const args = ['--test', '--test-concurrency=2', '--test-timeout=300000', ...process.argv.slice(2)];
// The CDK app's tests compile on their own (`npm run build:infra`, which `npm test` runs first)
// into infra/app/dist. A full run without them is a failure, not a quieter pass: a suite that
// skips the least-privilege checks must not report green.
const infraTests = join(root, 'infra', 'app', 'dist', 'infra', 'app', 'test');
if (process.argv.length <= 2) {
  if (!existsSync(infraTests)) {
    console.error('run-tests: infra/app/dist is missing: the CDK app\'s tests cannot run; build them with `npm run build:infra` (npm test does)');
    process.exit(1);
  }
  args.push(dir, infraTests);
}
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...process.env } });
process.exit((r.status ?? 1) || layering);
