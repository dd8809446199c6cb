#!/usr/bin/env node
// Installs what `npm run tour` / `npm test` need when it is missing, on a fresh clone with
// only Node and npm: the npm packages (npm ci from the lockfile), and with --test the
// Debian packages the tests run for real (scripts/test-deps.sh).
import { existsSync, lstatSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = Boolean(process.env.CI);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit' });
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

const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
// A node_modules that is a symlink is an install shared with other checkouts (git worktrees):
// `npm ci` here would empty it through the link for all of them. Leave it to its owner.
const shared = existsSync(join(root, 'node_modules')) && lstatSync(join(root, 'node_modules')).isSymbolicLink();
const stale = !existsSync(installed) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs + 1000);
if (stale && shared) {
  if (!quiet) console.error('ensure-deps: node_modules is a shared install (a symlink) and looks older than package-lock.json; not reinstalling it from here');
} else if (stale) {
  if (!quiet) console.error('ensure-deps: installing npm packages (npm ci)…');
  run('npm', existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
}

if (process.argv.includes('--test')) run('bash', [join(root, 'scripts', 'test-deps.sh')]);
