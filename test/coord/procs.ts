/** Test helper: contender processes and their shared event log. Not a test itself. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ContenderConfig } from './contender.js';

export const CONTENDER = fileURLToPath(new URL('./contender.js', import.meta.url));

export interface Ev {
  id: string;
  pid: number;
  t: number;
  ev: string;
  round?: number;
  token?: string;
  ahead?: number;
  why?: string;
}

export interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves with the first stdout line starting with `prefix`. */
  line(prefix: string, timeoutMs: number): Promise<string>;
}

export function startContender(cfg: ContenderConfig): Proc {
  const child = spawn(process.execPath, [CONTENDER, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    line: async (prefix, timeoutMs) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const l = out.split('\n').find((x) => x.startsWith(prefix));
        if (l !== undefined) return l;
        if (child.exitCode !== null || Date.now() > until) {
          throw new Error(`contender ${cfg.id}: no "${prefix}" line (exit ${child.exitCode}); stderr: ${err}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

export function readEvents(path: string): Ev[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Ev);
}

/** Poll the log until `pred` holds for some event. */
export async function waitForEvent(path: string, pred: (e: Ev) => boolean, timeoutMs: number): Promise<Ev> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const e = readEvents(path).find(pred);
    if (e) return e;
    if (Date.now() > until) throw new Error(`no matching event in ${path} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function exitOf(p: Proc, timeoutMs: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([p.exited, new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)))]);
  clearTimeout(timer);
  if (r === 'timeout') {
    p.child.kill('SIGKILL');
    throw new Error(`contender did not exit within ${timeoutMs} ms; stderr: ${p.stderr()}`);
  }
  return r;
}

export interface Interval {
  id: string;
  token: string;
  enter: number;
  exit: number;
}

/** Pair enter/exit events per (id, round); assert there is no overlap; return them in entry order. */
export function intervals(events: Ev[]): Interval[] {
  const open = new Map<string, Ev>();
  const out: Interval[] = [];
  for (const e of events) {
    const key = `${e.id}/${e.round ?? 0}`;
    if (e.ev === 'enter') open.set(key, e);
    if (e.ev === 'exit') {
      const s = open.get(key);
      if (!s) throw new Error(`exit without enter: ${key}`);
      out.push({ id: e.id, token: s.token!, enter: s.t, exit: e.t });
      open.delete(key);
    }
  }
  return out.sort((a, b) => a.enter - b.enter);
}
