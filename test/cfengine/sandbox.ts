/**
 * Helpers for the CFEngine tests: the real agent, server and promises checker from Debian's
 * cfengine3 package, run in throw-away work directories and, where a hostname matters, in a
 * sandbox of Linux namespaces, so that nothing on the test machine changes:
 *
 *   - its own UTS namespace: `hostname web-03` inside leaves the host's name alone;
 *   - its own mount namespace (private propagation): /etc/hosts and /etc/services are
 *     bind-mounted from the sandbox's files, so the hub's name resolves to a loopback
 *     address and the "cfengine" service names the test hub's port;
 *   - its own PID namespace with its own /proc: the daemons the bootstrap starts (cf-execd,
 *     and cf-serverd, which fails to bind in the sandbox) live and die with it (the kernel
 *     kills them when the namespace's first process exits), and the agent cannot mistake the
 *     host's systemd for its own (`/proc/1/cmdline` would make it `systemctl restart
 *     cfengine3` on the host);
 *   - CFENGINE_TEST_OVERRIDE_WORKDIR and FLEET_ROOT point every file the agent, the policy
 *     and the bootstrap write into temp directories.
 *
 * Namespaces need root (the tests run as root here and in CI); missing root or a missing
 * program fails the test with what is missing, it never skips.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/test/cfengine). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const POLICY_DIR = join(REPO, 'infra', 'cfengine');

/** Loopback address of the test hub: not 127.0.0.1, which the agent takes for itself (it would bootstrap as a hub). */
export const HUB_ADDRESS = '127.0.0.2';

/** What the tests need from the machine, and the Debian package that provides it. */
const PACKAGES: Record<string, string> = {
  'cf-agent': 'cfengine3',
  'cf-promises': 'cfengine3',
  'cf-serverd': 'cfengine3',
  'cf-key': 'cfengine3',
  'cf-execd': 'cfengine3',
  shellcheck: 'shellcheck',
  unshare: 'util-linux',
  mount: 'mount',
  hostname: 'hostname',
  curl: 'curl',
  aws: 'awscli',
};

/** The absolute path of a command on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v "$1"`, 'sh', cmd], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p.startsWith('/') ? p : undefined;
}

/** Fail (not skip) with what to install when a command is missing. */
export function need(...cmds: string[]): void {
  const missing = cmds.filter((c) => which(c) === undefined);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((c) => PACKAGES[c] ?? c))];
  assert.fail(`missing ${missing.join(', ')}: apt-get install -y ${pkgs.join(' ')} (scripts/test-deps.sh installs what the tests need)`);
}

/** Fail (not skip) unless root: the sandbox needs new UTS, mount and PID namespaces. */
export function needRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    assert.fail(`${what} needs root (unshare --uts --mount --pid); run the tests as root, as CI does`);
  }
}

/**
 * The AWS CLI binary itself. A pyenv shim finds its Python through HOME and PYENV_*, which
 * the sandbox does not pass on, so a shim is resolved to the script it runs.
 */
export function awsBinary(): string {
  need('aws');
  const found = which('aws')!;
  if (found.includes('/shims/') && which('pyenv')) {
    const r = spawnSync('pyenv', ['which', 'aws'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim().startsWith('/')) return r.stdout.trim();
  }
  return realpathSync(found);
}

/**
 * A CFEngine work directory as Debian's package lays it out: `bin` links to where the
 * binaries are (the failsafe policy starts $(sys.workdir)/bin/cf-execd), and a key pair.
 */
export function makeWorkdir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  need('cf-agent', 'cf-key');
  if (!existsSync(join(dir, 'bin'))) symlinkSync(dirname(realpathSync(which('cf-agent')!)), join(dir, 'bin'));
  const key = spawnSync('cf-key', [], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CFENGINE_TEST_OVERRIDE_WORKDIR: dir } });
  assert.equal(key.status, 0, `cf-key: ${key.stderr}`);
  return dir;
}

export interface Sandbox {
  /** The hostname inside (the UTS namespace). */
  hostname: string;
  /** File bind-mounted on /etc/hosts. */
  hosts: string;
  /** File bind-mounted on /etc/services (the "cfengine" port), if any. */
  services?: string;
  /** The whole environment of the command inside (nothing else is passed on). */
  env: Record<string, string>;
  /**
   * Wait, after the command, until every other process of the namespace has exited (for
   * cf-execd --once, which forks the agent run and does not wait for it). Otherwise the
   * command is the namespace's first process, and what it leaves running (the daemons a
   * bootstrap starts) is killed when it exits.
   */
  waitForAll?: boolean;
}

/** `unshare` argv running `cmd` inside the sandbox (hostname set, files mounted). */
function sandboxArgv(sb: Sandbox, cmd: string[]): string[] {
  // Inside: bind the files, set the hostname, then become the command (PID 1 of the namespace).
  const inner = [
    'set -eu',
    'mount --bind "$SB_HOSTS" /etc/hosts',
    'if [ -n "$SB_SERVICES" ]; then mount --bind "$SB_SERVICES" /etc/services; fi',
    'hostname "$SB_HOSTNAME"',
    'if [ "$SB_WAIT" != 1 ]; then unset SB_HOSTS SB_SERVICES SB_HOSTNAME SB_WAIT; exec "$@"; fi',
    'unset SB_HOSTS SB_SERVICES SB_HOSTNAME SB_WAIT',
    'rc=0',
    '"$@" || rc=$?',
    // This shell is PID 1: wait until it is the only process left (reaping as children exit).
    'while :; do set -- /proc/[0-9]*; [ "$#" -gt 1 ] || break; sleep 0.05; done',
    'exit "$rc"',
  ].join('\n');
  return ['--uts', '--mount', '--propagation', 'private', '--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', inner, 'sandbox', ...cmd];
}

function sandboxEnv(sb: Sandbox): Record<string, string> {
  return { ...sb.env, SB_HOSTS: sb.hosts, SB_SERVICES: sb.services ?? '', SB_HOSTNAME: sb.hostname, SB_WAIT: sb.waitForAll ? '1' : '0' };
}

export interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `cmd` in the sandbox, synchronously (nothing in this process has to answer it). */
export function inSandboxSync(sb: Sandbox, cmd: string[], timeoutMs = 60_000): SpawnSyncReturns<string> {
  needRoot('the CFEngine sandbox');
  need('unshare', 'mount', 'hostname');
  return spawnSync('unshare', sandboxArgv(sb, cmd), { encoding: 'utf8', env: sandboxEnv(sb), timeout: timeoutMs, killSignal: 'SIGKILL' });
}

/** Run `cmd` in the sandbox without blocking this process (servers in it keep answering). */
export function inSandbox(sb: Sandbox, cmd: string[], timeoutMs = 60_000): Promise<Ran> {
  needRoot('the CFEngine sandbox');
  need('unshare', 'mount', 'hostname');
  return new Promise((done, fail) => {
    const child = spawn('unshare', sandboxArgv(sb, cmd), { env: sandboxEnv(sb), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // --kill-child: when unshare dies, the namespace's first process gets SIGKILL, and with it the namespace.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, stdout, stderr });
    });
  });
}

/** /etc/services with the "cfengine" service on `port` (how cf-agent finds a hub given by name only). */
export function servicesWithCfenginePort(port: number): string {
  const base = existsSync('/etc/services') ? readFileSync('/etc/services', 'utf8') : '';
  const kept = base.split('\n').filter((l) => !/^cfengine\s/.test(l));
  return `${kept.join('\n').replace(/\n*$/, '\n')}cfengine\t${port}/tcp\n`;
}

/** A free TCP port on `host` (bound and released; the caller binds it next). */
export function freePort(host: string): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? done(addr.port) : fail(new Error('no port'))));
    });
  });
}

/** Resolves when something accepts TCP connections on host:port; rejects after timeoutMs. */
export async function waitForPort(host: string, port: number, timeoutMs: number, alive: () => string | undefined): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(dead);
    const ok = await new Promise<boolean>((done) => {
      const s = createConnection({ host, port });
      s.once('connect', () => {
        s.destroy();
        done(true);
      });
      s.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Is a process with this pid alive (a zombie counts as gone)? */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** Pids of live processes whose environment or command line mentions `needle` (e.g. a temp dir). */
export function processesMentioning(needle: string): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    let cmd = '';
    let env = '';
    try {
      cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      env = readFileSync(`/proc/${e}/environ`, 'utf8');
    } catch {
      continue;
    }
    if ((cmd.includes(needle) || env.includes(needle)) && alive(Number(e))) found.push({ pid: Number(e), cmd });
  }
  return found;
}

/**
 * A listing of a directory tree (path, type, mode, size, mtime), to show that a test left it
 * untouched. An absent directory lists as absent.
 */
export function treeListing(root: string): string[] {
  if (!existsSync(root)) return [`${root}: absent`];
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = lstatSync(p);
    const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f';
    out.push(`${p} ${kind} ${(st.mode & 0o7777).toString(8)} ${st.isDirectory() ? '' : st.size} ${st.mtimeMs}`);
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
  };
  walk(root);
  return out;
}

/** The last "Outcome of version <version>" line of a promise_summary.log, parsed. */
export interface Outcome {
  version: string;
  kept: number;
  repaired: number;
  notRepaired: number;
}

export function outcomes(workdir: string): Outcome[] {
  const file = join(workdir, 'promise_summary.log');
  if (!existsSync(file)) return [];
  const re = /Outcome of version (.*) \(agent-\d+\): Promises observed to be kept ([\d.]+)%, Promises repaired ([\d.]+)%, Promises not repaired ([\d.]+)%/;
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => re.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: m[1]!, kept: Number(m[2]), repaired: Number(m[3]), notRepaired: Number(m[4]) }));
}

/** Write a file, creating its directory. */
export function put(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
}
