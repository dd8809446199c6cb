/**
 * Shared by the benchmarks (scripts/bench.ts, scripts/bench-lifecycle.ts): the CLI and the
 * local cloud each run as a child process, so that each one's peak memory is its own.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The executable users run: the bundle of scripts/bundle-cli.mjs (`npm run build` makes it). */
export const cli = join(root, 'dist', 'bin', 'fleet.mjs');
/** The same CLI unbundled, as the tests run it. */
export const cliUnbundled = join(root, 'dist', 'src', 'cli', 'main.js');
/**
 * Loaded into the CLI with --import: at exit, writes its peak RSS (as scripts/rusage.mjs
 * measures it) and CPU time (user + system) as JSON to fd 3, an extra pipe. A pipe rather than
 * the file scripts/rusage.mjs writes: a /tmp cleaner may remove a temporary directory during a
 * run of minutes.
 */
const exitHook =
  'data:text/javascript,import{writeSync}from"node:fs";' +
  'if(process.env.FLEET_BENCH_FD3)process.on("exit",()=>{const u=process.resourceUsage();' +
  'try{writeSync(3,JSON.stringify({maxRssBytes:u.maxRSS*1024,cpuMs:(u.userCPUTime+u.systemCPUTime)/1000}))}catch{}})';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time, real ms. */
  ms: number;
  maxRssBytes: number;
  /** CPU time of the CLI process (user + system), real ms; 0 when it died before its exit hook. */
  cpuMs: number;
}

/** Run the CLI as a child process; its peak RSS and CPU time come back on fd 3. */
export function runFleet(args: string[], env: Record<string, string>): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // FLEET_BENCH_CLI_NODE_ARGS: extra node flags for the CLI only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    const nodeArgs = (process.env['FLEET_BENCH_CLI_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, '--import', exitHook, cli, ...args], {
      cwd: root,
      env: { ...process.env, ...env, FLEET_BENCH_FD3: '1', CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let usage = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d) => (usage += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      let maxRssBytes = 0;
      let cpuMs = 0;
      try {
        ({ maxRssBytes, cpuMs } = JSON.parse(usage) as { maxRssBytes: number; cpuMs: number });
      } catch {
        /* the process died before its exit hooks */
      }
      resolve({ code: code ?? 1, stdout, stderr, ms, maxRssBytes, cpuMs });
    });
  });
}

/** Call the local cloud's control endpoint (/_sim/...). */
export async function control(endpoint: string, path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST'): Promise<any> {
  const r = await fetch(`${endpoint}/_sim${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`control ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

export interface Sim {
  endpoint: string;
  stop: () => void;
}

/** `fleet sim --port 0 --json [extra args]` as a child process. */
export async function startSim(extra: string[] = []): Promise<Sim> {
  const child = spawn(process.execPath, [cli, 'sim', '--port', '0', '--json', ...extra], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`fleet sim exited ${c}`)));
  });
  return { endpoint: (JSON.parse(line) as { endpoint: string }).endpoint, stop: () => child.kill('SIGTERM') };
}

export const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MiB`;

/** Columns right-aligned, except those named in `left`. */
export function printTable(rows: Record<string, string | number>[], left: string[] = []): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => (left.includes(cols[i]!) ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ').trimEnd();
  console.log(line(cols));
  for (const r of rows) console.log(line(cols.map((c) => String(r[c]))));
}

/** A whole number from the environment, or the default. */
export function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v}: expected a whole number >= 0`);
  return n;
}
