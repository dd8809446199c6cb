/**
 * Test helper: a private standalone ZooKeeper on a free loopback port in a temp dir, started
 * and stopped through scripts/zookeeper.sh (tick 200 ms, so session timeouts of a few seconds
 * are allowed). Not a test itself.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SCRIPT = fileURLToPath(new URL('../../../scripts/zookeeper.sh', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** Running and not a zombie (the server's parent, the script, is gone, so nobody may reap it at once). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export class ZkServer {
  readonly dir: string;
  readonly port: number;
  readonly #live = new Set<number>();

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    process.once('exit', () => this.#killAllSync());
  }

  static async start(): Promise<ZkServer> {
    const s = new ZkServer(mkdtempSync(join(tmpdir(), 'fleet-zk-test-')), await freePort());
    await s.start();
    return s;
  }

  get connect(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return Number(readFileSync(join(this.dir, 'zookeeper.pid'), 'utf8').trim());
  }

  async start(): Promise<void> {
    try {
      await run('bash', [SCRIPT, 'start', '--port', String(this.port), '--dir', this.dir, '--tick-ms', '200', '--timeout', '30']);
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`zookeeper.sh start failed: ${err.stderr || err.message}`);
    }
    this.#live.add(this.pid);
  }

  /** Graceful stop through the script. */
  async stop(): Promise<void> {
    await run('bash', [SCRIPT, 'stop', '--dir', this.dir]);
    this.#live.clear();
  }

  /** Crash it: SIGKILL, and wait until the port is closed. */
  async kill(): Promise<void> {
    const pid = this.pid;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10));
    this.#live.delete(pid);
    rmSync(join(this.dir, 'zookeeper.pid'), { force: true });
  }

  /** Forget everything it stored (sessions, nodes): the next start is a blank server. */
  wipe(): void {
    rmSync(join(this.dir, 'data'), { recursive: true, force: true });
  }

  async dispose(): Promise<void> {
    try {
      if (this.#live.size > 0) await this.kill();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  #killAllSync(): void {
    for (const pid of this.#live) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}
