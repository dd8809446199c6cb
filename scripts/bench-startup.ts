/**
 * Start-up cost of the CLI for `npm run bench`: CPU time (user + system) and peak RSS of
 * `fleet --help`, `fleet plan --help` and `fleet validate` (the example fleet.yaml) beside
 * `node -e 0` and, where the AWS CLI is installed, `aws --version`. Runs the commands
 * interleaved, round after round, so that each ratio compares runs made under the same load;
 * reports medians. Measured with GNU time (`/usr/bin/time`), the same way for every command.
 *
 * Targets (issue 14): `fleet --help` <= 2x `node -e 0` (and <= 0.3x `aws --version`),
 * `fleet validate` <= 3x `node -e 0`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliUnbundled, printTable, root } from './bench-common.js';

const TIME = '/usr/bin/time';

interface Sample {
  cpuMs: number;
  rssKb: number;
}

function measure(argv: string[]): Sample | undefined {
  const r = spawnSync(TIME, ['-f', '@@%U %S %M', ...argv], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CI: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  const line = (r.stderr ?? '').split('\n').reverse().find((l) => l.startsWith('@@'));
  if (r.status !== 0 || !line) return undefined;
  const [u, s, m] = line.slice(2).split(' ').map(Number) as [number, number, number];
  return { cpuMs: (u + s) * 1000, rssKb: m };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function awsCliWorks(): boolean {
  const r = spawnSync('aws', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

export interface StartupResult {
  rows: Record<string, string | number>[];
  ok: boolean;
}

export function benchStartup(rounds = 7): StartupResult {
  if (!existsSync(TIME)) {
    console.log(`\nstart-up: skipped (${TIME} is not installed)`);
    return { rows: [], ok: true };
  }
  const example = join(root, 'fleet.yaml');
  const commands: { label: string; argv: string[] }[] = [
    { label: 'node -e 0', argv: [process.execPath, '-e', '0'] },
    { label: 'fleet --help', argv: [process.execPath, cli, '--help'] },
    { label: 'fleet plan --help', argv: [process.execPath, cli, 'plan', '--help'] },
    { label: 'fleet validate', argv: [process.execPath, cli, 'validate', '--config', example] },
    // The same commands unbundled (dist/src, as the tests run them): what the bundle saves.
    { label: 'fleet --help (dist/src)', argv: [process.execPath, cliUnbundled, '--help'] },
    { label: 'fleet validate (dist/src)', argv: [process.execPath, cliUnbundled, 'validate', '--config', example] },
  ];
  if (awsCliWorks()) commands.push({ label: 'aws --version', argv: ['aws', '--version'] });
  const samples = new Map<string, Sample[]>(commands.map((c) => [c.label, []]));
  for (let round = 0; round < rounds; round++) {
    for (const c of commands) {
      const s = measure(c.argv);
      if (!s) throw new Error(`bench start-up: ${c.label} failed`);
      samples.get(c.label)!.push(s);
    }
  }
  const cpu = (label: string) => median(samples.get(label)!.map((s) => s.cpuMs));
  const node = cpu('node -e 0');
  const aws = samples.has('aws --version') ? cpu('aws --version') : undefined;
  const targets: Record<string, { node?: number; aws?: number }> = {
    'fleet --help': { node: 2, aws: 0.3 },
    'fleet validate': { node: 3 },
    'fleet plan --help': { node: 2 },
  };
  let ok = true;
  const rows = commands.map((c) => {
    const mine = cpu(c.label);
    const t = targets[c.label];
    const againstNode = (mine / node).toFixed(2);
    const againstAws = aws !== undefined ? (mine / aws).toFixed(2) : 'n/a';
    const goal: string[] = [];
    if (t?.node !== undefined) {
      goal.push(`<= ${t.node}x node`);
      if (mine / node > t.node) ok = false;
    }
    if (t?.aws !== undefined && aws !== undefined) {
      goal.push(`<= ${t.aws}x aws`);
      if (mine / aws > t.aws) ok = false;
    }
    return {
      command: c.label,
      'CPU (median)': `${mine.toFixed(0)} ms`,
      'x node -e 0': againstNode,
      'x aws --version': againstAws,
      'peak RSS': `${(median(samples.get(c.label)!.map((s) => s.rssKb)) / 1024).toFixed(0)} MiB`,
      goal: goal.join(', ') || '-',
    };
  });
  return { rows, ok };
}

/** Print the start-up table; false when a goal is missed. */
export function printStartup(rounds = 7): boolean {
  console.log(`start-up — CPU time (user + system), medians of ${rounds} interleaved runs`);
  const r = benchStartup(rounds);
  printTable(r.rows, ['command', 'goal']);
  return r.ok;
}
