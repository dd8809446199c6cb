/**
 * The fleet's CFEngine policy (infra/cfengine) against the real agent (Debian's cfengine3):
 *
 *   - every policy file passes `cf-promises --full-check` on its own, and
 *     scripts/check-policy.sh says so (and catches a broken file);
 *   - each role of the example fleet.yaml converges in a sandbox named after one of its
 *     names: the first run repairs, the second keeps every promise, repairs nothing and
 *     reports nothing;
 *   - the classes the policy derives from the hostname (regextract on sys.uqhost) are the
 *     ones naming.ts and the bootstrap's augments give, so both agree; augments for another
 *     name stop the run before it changes anything;
 *   - what each role builds (web site, queue volume mount point, ci identity kept in state).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { renderAugments } from '../../src/bootstrap/userdata.js';
import { loadConfig } from '../../src/config/index.js';
import type { FleetSpec } from '../../src/model.js';
import { cfengineClasses, conventionOf, parseName } from '../../src/naming.js';
import { POLICY_DIR, REPO, inSandboxSync, makeWorkdir, need, needRoot, outcomes, put, treeListing, type Outcome } from './sandbox.js';

let spec: FleetSpec;
let work: string;
const hostCfengine = ['/var/lib/cfengine3', '/var/cfengine'];
let hostListing: string[] | undefined;

before(async () => {
  spec = await loadConfig(join(REPO, 'fleet.yaml'));
  work = mkdtempSync(join(tmpdir(), 'fleet-cf-policy-'));
  hostListing = hostCfengine.flatMap(treeListing);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  // The runs used temp work directories only.
  if (hostListing) assert.deepEqual(hostCfengine.flatMap(treeListing), hostListing, "the host's CFEngine work directory changed");
});

function policyFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.cf')) out.push(join(d, e.name));
    }
  };
  walk(dir);
  return out.sort();
}

// ---- static checks ------------------------------------------------------------------------

describe('cf-promises', () => {
  test('every policy file passes cf-promises --full-check -f <file> on its own, in a temp work directory', () => {
    need('cf-promises');
    const files = policyFiles(POLICY_DIR);
    const rel = files.map((f) => relative(POLICY_DIR, f));
    for (const f of ['promises.cf', 'update.cf', 'lib/fleet.cf', 'services/hub.cf', 'services/web.cf', 'services/queue.cf', 'services/ci.cf']) {
      assert.ok(rel.includes(f), `${f} is part of the policy`);
    }
    const wd = join(work, 'promises-check');
    const failures: string[] = [];
    for (const file of files) {
      // A library file checks alone through its `bundle agent __main__` (the entry bundle only
      // when the file is the entry) and its `body file control` inputs.
      const args = ['--full-check', '-f', file];
      const r = spawnSync('cf-promises', args, { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CFENGINE_TEST_OVERRIDE_WORKDIR: wd } });
      if (r.status !== 0) failures.push(`${relative(POLICY_DIR, file)}:\n${r.stdout}${r.stderr}`);
    }
    assert.deepEqual(failures, []);
  });

  test('scripts/check-policy.sh passes the policy, and fails a file that uses an undefined body', () => {
    need('cf-promises');
    const script = join(REPO, 'scripts', 'check-policy.sh');
    const ok = spawnSync('sh', [script], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /check-policy: \d+ policy files ok/);

    const broken = join(work, 'broken-policy');
    cpSync(POLICY_DIR, broken, { recursive: true });
    const web = join(broken, 'services', 'web.cf');
    writeFileSync(web, readFileSync(web, 'utf8').replace('perms => fleet_mode("0644")', 'perms => fleet_mode_typo("0644")'));
    const bad = spawnSync('sh', [script, broken], { encoding: 'utf8' });
    assert.equal(bad.status, 1, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /FAIL services\/web\.cf/);
    assert.match(bad.stderr, /Undefined body fleet_mode_typo with type perms/);
    assert.match(bad.stderr, /FAIL promises\.cf/, 'the entry includes the broken file');
  });
});

// ---- converging a role in a sandbox ----------------------------------------------------------

interface PolicyRun {
  status: number | null;
  output: string;
  outcome: Outcome | undefined;
}

interface Host {
  name: string;
  root: string;
  workdir: string;
  /** One agent run of promises.cf, as cf-execd would run it (-K: no locks from the previous run). */
  run(): PolicyRun;
}

/** A sandboxed host named `name`: hostname, /etc/hosts mapping its FQDN in the zone, work dir, FLEET_ROOT; optional augments. */
function host(name: string, augments?: unknown): Host {
  needRoot('converging a role');
  need('cf-agent');
  const dir = mkdtempSync(join(work, `${name}-`));
  const root = join(dir, 'root');
  const workdir = makeWorkdir(join(dir, 'cfwork'));
  if (augments !== undefined) put(join(workdir, 'data', 'host_specific.json'), JSON.stringify(augments));
  const hosts = join(dir, 'hosts');
  put(hosts, `127.0.0.1\tlocalhost\n10.0.3.7\t${name}.${spec.dns.zone} ${name}\n`);
  put(join(root, '.sandbox'), '');
  const env = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', CFENGINE_TEST_OVERRIDE_WORKDIR: workdir, FLEET_ROOT: root };
  return {
    name,
    root,
    workdir,
    run() {
      const before = outcomes(workdir).length;
      const r = inSandboxSync({ hostname: name, hosts, env }, ['cf-agent', '-K', '-I', '-f', join(POLICY_DIR, 'promises.cf')]);
      const after = outcomes(workdir);
      assert.ok(after.length <= before + 1);
      return { status: r.status, output: `${r.stdout}${r.stderr}`, outcome: after.length > before ? after[after.length - 1] : undefined };
    },
  };
}

/** Converged by the contract of the bootstrap: exit 0, an outcome, nothing left not kept. */
function assertKeptAll(r: PolicyRun, what: string): Outcome {
  assert.equal(r.status, 0, `${what}: cf-agent exited ${r.status}\n${r.output}`);
  assert.ok(r.outcome, `${what}: no outcome in promise_summary.log\n${r.output}`);
  assert.equal(r.outcome.notRepaired, 0, `${what}: promises not kept\n${r.output}`);
  assert.doesNotMatch(r.output, /error:/, what);
  return r.outcome;
}

const classesOf = (h: Host): string[] => readFileSync(join(h.root, 'var', 'lib', 'fleet', 'classes'), 'utf8').split('\n').filter((l) => l !== '');

/** One name per role of the example fleet.yaml. */
const NAMES: Record<string, string> = { hub: 'hub-01', web: 'web-03', queue: 'queue-01', ci: 'ci-01' };

describe('every role of fleet.yaml converges, and a second run repairs and reports nothing', () => {
  test('the example fleet.yaml has the roles the policy knows', () => {
    assert.deepEqual(spec.roles.map((r) => r.name).sort(), Object.keys(NAMES).sort());
  });

  for (const [role, name] of Object.entries(NAMES)) {
    test(`${role} (${name})`, () => {
      const h = host(name);
      const run1 = h.run();
      const first = assertKeptAll(run1, `${name} run 1`);
      assert.ok(first.repaired > 0, `${name}: the first run builds something`);

      const second = h.run();
      const o = assertKeptAll(second, `${name} run 2`);
      assert.equal(o.repaired, 0, `${name}: the second run repaired something\n${second.output}`);
      assert.equal(o.kept, 100);
      assert.equal(second.output.trim(), '', `${name}: a converged run reports nothing`);

      // The classes the policy derived from the hostname alone are the convention's.
      const expected = cfengineClasses(parseName(name, conventionOf(spec))).sort();
      assert.deepEqual(classesOf(h), expected);
      assert.ok(!classesOf(h).some((c) => c.startsWith('role_') && c !== `role_${role}`), 'no other role');
      const env = readFileSync(join(h.root, 'etc', 'fleet', 'node.env'), 'utf8');
      assert.match(env, new RegExp(`^FLEET_NAME=${name}$`, 'm'));
      assert.match(env, new RegExp(`^FLEET_ROLE=${role}$`, 'm'));
      assert.match(env, /^FLEET_ENV=prod$/m);
      // Sandbox: nothing was installed, started, formatted or mounted.
      // (Commands show as "Executing ... '<command>'"; the udev rule's text may name systemctl.)
      assert.doesNotMatch(run1.output + second.output, /Executing[^\n]*(systemctl|udevadm|mkfs|\/bin\/mount|apt-get)/);
    });
  }
});

describe('classes: the hostname and the augments agree', () => {
  test('with the augments the bootstrap writes, the classes are the same, and the variables come from them', () => {
    const name = 'web-03';
    const augments = renderAugments({ spec, name, generation: 7 });
    const h = host(name, augments);
    assertKeptAll(h.run(), 'with augments');
    assert.deepEqual(classesOf(h), cfengineClasses(parseName(name, conventionOf(spec))).sort());
    const env = readFileSync(join(h.root, 'etc', 'fleet', 'node.env'), 'utf8');
    assert.match(env, /^FLEET_GENERATION=7$/m);
    assert.match(env, /^FLEET_HUB=hub-01\.prod\.example\.com$/m);
    assert.match(env, /^FLEET_FQDN=web-03\.prod\.example\.com$/m);
    assert.match(readFileSync(join(h.root, 'etc', 'motd'), 'utf8'), /web-03\.prod\.example\.com: role web, environment prod, generation 7/);
  });

  test('augments of another name stop the run before it changes anything (exit non-zero, no outcome)', () => {
    const h = host('web-03', renderAugments({ spec, name: 'web-04', generation: 1 }));
    const r = h.run();
    assert.notEqual(r.status, 0, r.output);
    assert.equal(r.outcome, undefined);
    assert.match(r.output, /aborted on defined class 'fleet_hostname_is_not_the_augments_name'/);
    assert.deepEqual(readdirSync(h.root), ['.sandbox'], 'nothing written');
  });

  test('a host whose name is not a fleet name gets no role and says so', () => {
    const h = host('builder');
    const r = h.run();
    assertKeptAll(r, 'builder');
    assert.match(r.output, /R: builder: no role of this fleet \(hub, web, queue, ci\) applies; only the common policy ran/);
    assert.deepEqual(classesOf(h).filter((c) => /^(role|index)_/.test(c)), []);
  });
});

// ---- what the roles build ----------------------------------------------------------------

describe('roles', () => {
  test('web: the fleet site, enabled, Debian\'s default site gone, a page naming the server', () => {
    const h = host('web-03');
    const site = join(h.root, 'etc', 'nginx', 'sites-available', 'fleet.conf');
    const enabled = join(h.root, 'etc', 'nginx', 'sites-enabled');
    put(join(enabled, 'default'), 'server {}\n');
    assertKeptAll(h.run(), 'web');
    assert.match(readFileSync(site, 'utf8'), /server_name web-03\.prod\.example\.com web-03;/);
    assert.match(readFileSync(site, 'utf8'), /location = \/healthz/);
    assert.ok(lstatSync(join(enabled, 'fleet.conf')).isSymbolicLink());
    assert.equal(readlinkSync(join(enabled, 'fleet.conf')), site);
    assert.equal(existsSync(join(enabled, 'default')), false);
    assert.match(readFileSync(join(h.root, 'var', 'www', 'fleet', 'index.html'), 'utf8'), /<h1>web-03\.prod\.example\.com<\/h1>/);
    // A hand edit is put back on the next run.
    writeFileSync(site, 'server { listen 8080; }\n');
    const r = h.run();
    assertKeptAll(r, 'web after a hand edit');
    assert.ok(r.outcome!.repaired > 0);
    assert.match(readFileSync(site, 'utf8'), /server_name web-03\.prod\.example\.com/);
  });

  test('queue: the mount point and fstab line of fleet.yaml\'s volume, by label, nofail (the volume is attached after convergence)', () => {
    const volume = spec.roles.find((r) => r.name === 'queue')?.volume;
    assert.ok(volume, 'fleet.yaml gives queue a volume');
    // The policy's constants are fleet.yaml's.
    const policy = readFileSync(join(POLICY_DIR, 'services', 'queue.cf'), 'utf8');
    assert.match(policy, new RegExp(`"device" string => "${volume.device}";`));
    assert.match(policy, new RegExp(`"mount" string => "${volume.mountPoint}";`));

    const h = host('queue-01');
    put(join(h.root, 'etc', 'fstab'), `UUID=abcd / ext4 defaults 0 1\n/dev/sdg ${volume.mountPoint} xfs defaults 0 0\n`);
    assertKeptAll(h.run(), 'queue');
    assert.equal(
      readFileSync(join(h.root, 'etc', 'fstab'), 'utf8'),
      `UUID=abcd / ext4 defaults 0 1\nLABEL=fleet-queue ${volume.mountPoint} ext4 defaults,noatime,nofail 0 2\n`,
    );
    const dir = join(h.root, volume.mountPoint);
    assert.equal(statSync(dir).mode & 0o777, 0o750);
    // A disk attached later starts an agent run at once (udev -> a oneshot unit), not at the
    // next cf-execd run: the volume is mounted and reported in seconds.
    const rule = readFileSync(join(h.root, 'etc', 'udev', 'rules.d', '90-fleet-volume.rules'), 'utf8');
    assert.match(rule, /^ACTION=="add", SUBSYSTEM=="block", ENV\{DEVTYPE\}=="disk", RUN\+="\/bin\/systemctl --no-block start fleet-agent-run\.service"$/m);
    const unitFile = join(h.root, 'etc', 'systemd', 'system', 'fleet-agent-run.service');
    const unit = readFileSync(unitFile, 'utf8');
    // (The agent's path as sys.cf_agent gives it: quoted, which systemd accepts.)
    const agent = /^ExecStart="?([^"\s]+)"? -K -I$/m.exec(unit)?.[1];
    assert.ok(agent && existsSync(agent) && /cf-agent$/.test(agent), `the unit runs the agent: ${unit}`);
    assert.match(unit, /^Type=oneshot$/m);
    const verify = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
    if (!verify.error) assert.equal(verify.status, 0, `systemd-analyze verify: ${verify.stdout}${verify.stderr}`);
    assert.equal(statSync(join(h.root, 'usr', 'local', 'sbin', 'fleet-report-mounted')).mode & 0o777, 0o755);
    // And all that is converged: the next run repairs nothing.
    const again = assertKeptAll(h.run(), 'queue, second run');
    assert.equal(again.repaired, 0);
  });

  test('ci: an identity generated once into the state directory, restored identities kept, the runner configured from it', () => {
    const h = host('ci-01', renderAugments({ spec, name: 'ci-01', generation: 1 }));
    // The bootstrap points the policy at the state directory through the augments.
    const aug = renderAugments({ spec, name: 'ci-01', generation: 1 });
    assert.equal(aug.vars['fleet_state_s3'], 's3://demo-fleet-state/ci/ci-01/');
    const state = join(h.root, 'var', 'lib', 'fleet', 'state');
    put(join(h.workdir, 'data', 'host_specific.json'), JSON.stringify({ ...aug, vars: { ...aug.vars, fleet_state_dir: state } }));
    assertKeptAll(h.run(), 'ci');
    const id = readFileSync(join(state, 'runner-id'), 'utf8').trim();
    assert.match(id, /^ci-01-\d+$/);
    assert.equal(statSync(state).mode & 0o777, 0o700);
    const conf = join(h.root, 'etc', 'fleet-ci', 'runner.conf');
    assert.match(readFileSync(conf, 'utf8'), new RegExp(`^id = "${id}"$`, 'm'));
    assert.match(readFileSync(conf, 'utf8'), /^state = "s3:\/\/demo-fleet-state\/ci\/ci-01\/"$/m);
    assertKeptAll(h.run(), 'ci again');
    assert.equal(readFileSync(join(state, 'runner-id'), 'utf8').trim(), id, 'generated once');

    // A replacement restores the state from S3 before its first run: the same runner again.
    const next = host('ci-01');
    const nextState = join(next.root, 'var', 'lib', 'fleet', 'state');
    put(join(nextState, 'runner-id'), 'ci-01-1700000000\n');
    put(join(next.workdir, 'data', 'host_specific.json'), JSON.stringify({ ...aug, vars: { ...aug.vars, fleet_state_dir: nextState } }));
    assertKeptAll(next.run(), 'ci replacement');
    assert.equal(readFileSync(join(nextState, 'runner-id'), 'utf8'), 'ci-01-1700000000\n');
    assert.match(readFileSync(join(next.root, 'etc', 'fleet-ci', 'runner.conf'), 'utf8'), /^id = "ci-01-1700000000"$/m);
  });

  test('hub: the served masterfiles are private to root', () => {
    const h = host('hub-01');
    assertKeptAll(h.run(), 'hub');
    assert.equal(statSync(join(h.workdir, 'masterfiles')).mode & 0o777, 0o700);
  });
});
