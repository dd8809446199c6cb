#!/usr/bin/env node
// Installs what `npm run tour` / `npm test` need when it is missing, on a fresh clone with
// only Node and npm: the npm packages (npm ci from the lockfile), with --infra the CDK app's
// own packages (infra/app: aws-cdk-lib, cdk-nag; never for the tour), and with --test both
// those and the Debian packages the tests run for real (scripts/test-deps.sh).
import { existsSync, lstatSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = Boolean(process.env.CI);

function run(cmd, args, cwd = root) {
  const r = spawnSync(cmd, args, { cwd, stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit' });
  if (r.status !== 0) {
    console.error(`ensure-deps: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

const [major] = process.versions.node.split('.').map(Number);
if (major < 20) {
  console.error(`fleet needs Node 20 or newer; this is Node ${process.versions.node}`);
  process.exit(2);
}

/** npm ci in `dir` when its node_modules is missing or older than its lockfile. */
function ensureNpm(dir, what) {
  const lock = join(dir, 'package-lock.json');
  const installed = join(dir, 'node_modules', '.package-lock.json');
  const stale = !existsSync(installed) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs + 1000);
  if (!stale) return;
  // A symlinked node_modules is an install shared with other checkouts (git worktrees): npm ci
  // would empty the shared directory under everyone using it. Leave it to its owner.
  const modules = join(dir, 'node_modules');
  if (existsSync(modules) && lstatSync(modules).isSymbolicLink()) {
    if (!quiet) console.error(`ensure-deps: ${modules} is a link to a shared install; not reinstalling it (run npm ci where it lives if it is out of date)`);
    return;
  }
  if (!quiet) console.error(`ensure-deps: installing ${what} (npm ci)…`);
  run('npm', existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'], dir);
}

ensureNpm(root, 'npm packages');
if (process.argv.includes('--infra') || process.argv.includes('--test')) ensureNpm(join(root, 'infra', 'app'), 'the CDK app\'s packages (infra/app)');

if (process.argv.includes('--test')) run('bash', [join(root, 'scripts', 'test-deps.sh')]);
