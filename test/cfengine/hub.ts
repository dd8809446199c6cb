/**
 * A real policy hub for the tests: Debian's cf-serverd in its own temp work directory,
 * serving a copy of infra/cfengine as its masterfiles, on a free port of HUB_ADDRESS
 * (loopback), with the fleet's own access rules (services/hub.cf) limited by def.json to the
 * given networks. The hub's role comes from its augments, as the bootstrap writes them.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';

import { HUB_ADDRESS, POLICY_DIR, alive, freePort, makeWorkdir, need, put, waitForPort } from './sandbox.js';

export interface Hub {
  address: string;
  port: number;
  pid: number;
  workdir: string;
  /** What the hub serves (a copy of infra/cfengine): change it to change the fleet's policy. */
  masterfiles: string;
  /** cf-serverd's output so far. */
  log(): string;
  /** Stop cf-serverd (SIGTERM, then SIGKILL) and make sure it is gone. */
  stop(): Promise<void>;
}

export interface HubOptions {
  /** fleet_acl in def.json; undefined leaves the policy's default (the VPC, 10.0.0.0/16). */
  acl?: string[];
}

export async function startHub(dir: string, opts: HubOptions = {}): Promise<Hub> {
  need('cf-serverd', 'cf-key');
  const workdir = makeWorkdir(dir);
  const masterfiles = join(workdir, 'masterfiles');
  cpSync(POLICY_DIR, masterfiles, { recursive: true });
  // The hub runs the policy it serves (its own update.cf copies masterfiles to inputs).
  cpSync(POLICY_DIR, join(workdir, 'inputs'), { recursive: true });
  const port = await freePort(HUB_ADDRESS);
  put(
    join(workdir, 'inputs', 'def.json'),
    JSON.stringify({ vars: { ...(opts.acl ? { fleet_acl: opts.acl } : {}), fleet_server_port: String(port), fleet_server_bind: HUB_ADDRESS } }, null, 2),
  );
  put(join(workdir, 'data', 'host_specific.json'), JSON.stringify({ classes: { 'default:role_hub': ['any::'] } }));

  let out = '';
  const child: ChildProcess = spawn('cf-serverd', ['--no-fork', '--inform', '-f', join(workdir, 'inputs', 'promises.cf')], {
    env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', CFENGINE_TEST_OVERRIDE_WORKDIR: workdir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  assert.ok(child.pid, 'cf-serverd started');
  const pid = child.pid;

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    assert.equal(alive(pid), false, `cf-serverd ${pid} is still running`);
  };

  try {
    await waitForPort(HUB_ADDRESS, port, 10_000, () =>
      child.exitCode !== null || child.signalCode !== null ? `cf-serverd exited (${child.exitCode ?? child.signalCode}):\n${out}` : undefined,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { address: HUB_ADDRESS, port, pid, workdir, masterfiles, log: () => out, stop };
}
