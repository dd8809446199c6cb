/**
 * Shared by the coordination tests (coordination.test.ts, controller.test.ts): the fleet they
 * use, the real bin as a child process whose pid and output are known while it runs, polling.
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { BIN, ROOT, type CliResult } from './helpers.js';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

export const SPEED = 20;
export const FAST = ['--time-scale', String(SPEED), '--poll-ms', '200'];
export const LIVE = new Set(['pending', 'running']);
export const HOST = hostname();
export const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export interface YamlOptions {
  zk?: { connect: string; sessionTimeout?: string };
  /** How many web names (default 3). */
  web?: number;
  concurrency?: number;
  /** reconcile.interval (the controller's period), e.g. 4s. */
  interval?: string;
}

/** hub-01 and web-01..03 (or `web` names; web may become m5.large or t3a.medium), TTL 1 s, orphan grace 0. */
export function yaml(f: string, o: YamlOptions = {}): string {
  const zk = o.zk;
  return `fleet: ${f}
region: us-east-1
dns:
  zone: ${f}.example.com
  ttl: 1
hub: hub-01
journal:
  bucket: ${f}-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001, subnet-0bb00000000000002]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub:
    count: 1
    type: t3.small
  web:
    count: ${o.web ?? 3}
    type: t3.medium
    alternatives: [t3a.medium, m5.large]
    market: spot
    on-demand-fallback: true
reconcile:
  orphan-grace: 0s
  converge-timeout: 30m
  concurrency: ${o.concurrency ?? 20}
${o.interval ? `  interval: ${o.interval}\n` : ''}${zk ? `coordination:\n  zookeeper:\n    connect: ${zk.connect}\n    session-timeout: ${zk.sessionTimeout ?? '4s'}\n` : ''}`;
}

export const NAMES = ['hub-01', 'web-01', 'web-02', 'web-03'];

export interface Proc {
  pid: number;
  args: string[];
  /** Output so far (grows while it runs). */
  out: { stdout: string; stderr: string };
  done: Promise<CliResult>;
  kill(sig: NodeJS.Signals): void;
}

/** The real bin as a child process; its pid known at once, its output readable while it runs. */
export function spawnFleet(args: string[], env: Record<string, string>, timeoutMs = 60_000): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fleet ${args.join(' ')} did not finish within ${timeoutMs} ms; stdout: ${out.stdout}\nstderr: ${out.stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: out.stdout, stderr: out.stderr });
    });
  });
  return { pid: child.pid!, args, out, done, kill: (sig) => child.kill(sig) };
}

export async function until<T>(what: string, timeoutMs: number, f: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface JournalEntry {
  key: string;
  kind: string;
  name: string;
  operation: string;
  instanceId?: string;
  generation?: number;
  fencingToken?: string;
  /** The controller's leader term, when a controller wrote it. */
  leader?: { fencingToken: string; host: string; pid: number };
}
