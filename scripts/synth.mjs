#!/usr/bin/env node
// `npm run synth`: the CloudFormation template of the fleet's stack, offline (no account, no
// network, no Docker): builds the Lambda bundles (`npm run bundle`), compiles the CDK app
// (infra/app, its own package), and runs it with node. The template lands in infra/app/cdk.out
// (or $CDK_OUTDIR, which the cdk CLI sets when it runs this as the app of infra/app/cdk.json).
// Pass the fleet.yaml with FLEET_CONFIG=path (default: the repository's fleet.yaml).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const infra = join(root, 'infra', 'app');

function run(what, cmd, args, env = process.env, cwd = root) {
  // stdout stays clean for the cdk CLI: every step reports on stderr.
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 2, 2], env });
  if (r.status !== 0) {
    console.error(`synth: ${what} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

run('npm run bundle', 'npm', ['run', '--silent', 'bundle']);
run('compiling infra/app', process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(infra, 'tsconfig.json')]);
// From the caller's directory, so a relative `-c fleetConfig=...` or FLEET_CONFIG means what it says there.
run('the CDK app', process.execPath, [join(infra, 'dist', 'infra', 'app', 'bin', 'app.js')], {
  ...process.env,
  CDK_OUTDIR: process.env.CDK_OUTDIR ?? join(infra, 'cdk.out'),
}, process.cwd());
