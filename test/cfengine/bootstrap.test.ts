/**
 * The bootstrap end to end, for real: the user-data fleet renders for a name runs in a
 * sandbox (its own UTS, mount and PID namespaces; see sandbox.ts) against
 *
 *   - a real policy hub: Debian's cf-serverd on loopback serving a copy of infra/cfengine,
 *     limited to the test's network by the policy's own access rules (hub.ts);
 *   - an IMDSv2 stand-in on loopback: the instance id, region, private IP and dummy
 *     instance-profile credentials (imds.ts);
 *   - the local cloud in this process, where the instance was launched with that user-data
 *     and told never to converge on its own (setConvergence 'never'), so that only the
 *     instance's own report, the real `aws ec2 create-tags`, can tag it fleet:converged.
 *
 * Nothing is stubbed but the package installation (FLEET_SKIP_INSTALL=1: the work directory
 * is laid out as Debian's cfengine3 package leaves it, and the AWS CLI is the machine's).
 * The sandbox changes nothing outside its temp directories: the host's hostname, its
 * CFEngine work directory and its processes are checked after the tests.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { AttachVolumeCommand, CreateVolumeCommand, DescribeInstancesCommand, DescribeVolumesCommand, EC2Client, RunInstancesCommand, type Instance } from '@aws-sdk/client-ec2';

import { renderAugments, renderUserData, userDataBase64 } from '../../src/bootstrap/userdata.js';
import { CONVERGED_TAG, MOUNTED_TAG } from '../../src/bootstrap/marker.js';
import { loadConfig } from '../../src/config/index.js';
import type { FleetSpec } from '../../src/model.js';
import { cfengineClasses, conventionOf, parseName } from '../../src/naming.js';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { startHub, type Hub } from './hub.js';
import { startImds, type Imds } from './imds.js';
import {
  HUB_ADDRESS,
  REPO,
  alive,
  awsBinary,
  inSandbox,
  makeWorkdir,
  need,
  needRoot,
  outcomes,
  processesMentioning,
  put,
  servicesWithCfenginePort,
  treeListing,
  type Outcome,
  type Ran,
  type Sandbox,
} from './sandbox.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const HOST_CFENGINE = ['/var/lib/cfengine3', '/var/cfengine'];

let spec: FleetSpec;
let work: string;
let cloud: LocalCloud | undefined;
let ec2: EC2Client | undefined;
let hub: Hub | undefined;
const imdses: Imds[] = [];
const hubPids: number[] = [];
let hostBefore: string | undefined;
let hostCfengineBefore: string[] | undefined;

before(async () => {
  // What the sandbox needs; each missing piece fails every test here with what to install.
  needRoot('the bootstrap end to end');
  need('unshare', 'mount', 'hostname', 'cf-agent', 'cf-serverd', 'cf-key', 'cf-execd', 'curl', 'aws');
  hostBefore = hostname();
  hostCfengineBefore = HOST_CFENGINE.flatMap(treeListing);
  spec = await loadConfig(join(REPO, 'fleet.yaml'));
  work = mkdtempSync(join(tmpdir(), 'fleet-cf-bootstrap-'));
  cloud = await startLocalCloud({ delays: { bootMs: 50, convergeMs: 100, dnsSyncMs: 100, shutdownMs: 50, snapshotMs: 100, attachMs: 20 } });
  ec2 = new EC2Client({ endpoint: cloud.endpoint, region: cloud.control.region, credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'local-cloud-secret' }, maxAttempts: 1 });
  // Only the instances' own reports may converge them.
  cloud.control.ec2.setConvergence([{ names: ['web-03', 'queue-01'], converge: 'never' }]); // (never mounts either)
  hub = await startHub(join(work, 'hub'), { acl: ['127.0.0.1'] });
  hubPids.push(hub.pid);
});

after(async () => {
  await hub?.stop();
  for (const i of imdses) await i.close();
  ec2?.destroy();
  await cloud?.close();
  try {
    // The sandbox changed nothing on this machine.
    if (hostBefore !== undefined) assert.equal(hostname(), hostBefore, "the host's hostname changed");
    if (hostCfengineBefore !== undefined) assert.deepEqual(HOST_CFENGINE.flatMap(treeListing), hostCfengineBefore, "the host's CFEngine work directory changed");
    for (const pid of hubPids) assert.equal(alive(pid), false, `cf-serverd ${pid} still runs`);
    if (work) {
      const left = processesMentioning(work);
      assert.deepEqual(left, [], `processes of the sandbox still run: ${left.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);
    }
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
});

// ---- the pieces ------------------------------------------------------------------------------

interface Launched {
  id: string;
  privateIp: string;
  az: string;
  launchTime: Date;
}

function tagOf(i: Instance | undefined, key: string): string | undefined {
  return i?.Tags?.find((t) => t.Key === key)?.Value;
}

async function describe1(id: string): Promise<Instance | undefined> {
  const r = await ec2!.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return r.Reservations?.[0]?.Instances?.[0];
}

/** Launch the name in the local cloud as fleet does (its user-data, its tags, IMDSv2), and wait until it runs. */
async function launch(name: string): Promise<Launched> {
  const n = parseName(name, conventionOf(spec));
  const r = await ec2!.send(
    new RunInstancesCommand({
      ImageId: 'ami-0123456789abcdef0',
      InstanceType: 't3.medium',
      SubnetId: 'subnet-0aa00000000000001',
      MinCount: 1,
      MaxCount: 1,
      UserData: userDataBase64({ spec, name, generation: 1 }),
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
      TagSpecifications: [
        {
          ResourceType: 'instance',
          Tags: [
            { Key: 'fleet:fleet', Value: spec.fleet },
            { Key: 'fleet:name', Value: n.name },
            { Key: 'fleet:role', Value: n.role },
            { Key: 'fleet:generation', Value: '1' },
            { Key: 'Name', Value: n.fqdn },
          ],
        },
      ],
    }),
  );
  const id = r.Instances?.[0]?.InstanceId;
  assert.ok(id);
  for (let i = 0; ; i++) {
    const x = await describe1(id);
    if (x?.State?.Name === 'running' && x.PrivateIpAddress) {
      return { id, privateIp: x.PrivateIpAddress, az: x.Placement!.AvailabilityZone!, launchTime: x.LaunchTime! };
    }
    assert.ok(i < 200, `${name} never ran`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

interface Booted {
  name: string;
  instance: Launched;
  root: string;
  workdir: string;
  imds: Imds;
  /** The sandbox as the script left it: hostname = the name. */
  sandbox: Sandbox;
  run: Ran;
}

/** Run the user-data of `name` for real in a fresh sandbox, as the instance `inst`. */
async function bootstrap(name: string, inst: Launched): Promise<Booted> {
  const dir = mkdtempSync(join(work, `${name}-`));
  const root = join(dir, 'root');
  // As Debian's cfengine3 package leaves it (FLEET_SKIP_INSTALL skips the apt-get): bin, keys.
  const workdir = makeWorkdir(join(dir, 'cfwork'));
  const hubName = parseName(spec.hub, conventionOf(spec));
  // The sandbox's /etc/hosts (bind-mounted; the script edits it in place): the hub's name on loopback.
  put(join(root, 'etc', 'hosts'), `127.0.0.1\tlocalhost\n${HUB_ADDRESS}\t${hubName.fqdn} ${hubName.name}\n`);
  mkdirSync(join(root, 'etc', 'cloud', 'cloud.cfg.d'), { recursive: true });
  put(join(root, 'dev', 'console'), '');
  const services = join(dir, 'services');
  put(services, servicesWithCfenginePort(hub!.port));
  // The AWS CLI, and only it, from wherever this machine has it.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(awsBinary(), join(bin, 'aws'));
  const script = join(dir, 'user-data.sh');
  writeFileSync(script, renderUserData({ spec, name, generation: 1 }));

  const imds = await startImds({ instanceId: inst.id, region: cloud!.control.region, az: inst.az, privateIp: inst.privateIp, role: 'fleet-node' });
  imdses.push(imds);
  const env: Record<string, string> = {
    PATH: `${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: root,
    LC_ALL: 'C',
    FLEET_ROOT: root,
    FLEET_IMDS_ENDPOINT: imds.endpoint,
    AWS_ENDPOINT_URL: cloud!.endpoint,
    FLEET_SKIP_INSTALL: '1',
    FLEET_RETRY_PAUSE: '1',
    CFENGINE_TEST_OVERRIDE_WORKDIR: workdir,
    // No AWS configuration of this machine reaches the sandbox: credentials come from the IMDS.
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    AWS_PAGER: '',
  };
  const booting: Sandbox = { hostname: `ip-${inst.privateIp.replace(/\./g, '-')}`, hosts: join(root, 'etc', 'hosts'), services, env };
  const run = await inSandbox(booting, ['sh', script], 120_000);
  return { name, instance: inst, root, workdir, imds, sandbox: { ...booting, hostname: name }, run };
}

/** What cf-execd captured of its last run (it keeps each run's output in $(sys.workdir)/outputs). */
function execdOutput(workdir: string): string {
  const dir = join(workdir, 'outputs');
  const runs = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('cf_')).sort((a, b) => statSync(join(dir, a)).mtimeMs - statSync(join(dir, b)).mtimeMs) : [];
  return runs.length > 0 ? readFileSync(join(dir, runs[runs.length - 1]!), 'utf8') : '(no output captured)';
}

const lastOutcome = (workdir: string, version: string): Outcome | undefined => outcomes(workdir).filter((o) => o.version === version).at(-1);
const classesOf = (b: Booted): string[] => readFileSync(join(b.root, 'var', 'lib', 'fleet', 'classes'), 'utf8').split('\n').filter((l) => l !== '');

/** The bootstrap's own verdict and the readiness contract, for any name. */
async function assertBootstrapped(b: Booted): Promise<void> {
  const log = `${b.run.stdout}${b.run.stderr}`;
  assert.equal(b.run.status, 0, `the user-data of ${b.name} failed:\n${log}`);
  assert.match(b.run.stderr, /converged on agent run \d+/);
  assert.match(b.run.stderr, new RegExp(`ready: tagged ${b.instance.id} fleet:converged=`));

  // Bootstrapped to the hub, by name: policy_server.dat names it, and the policy came from it.
  assert.equal(readFileSync(join(b.workdir, 'policy_server.dat'), 'utf8').trim(), 'hub-01.prod.example.com');
  assert.match(log, /Bootstrap to 'hub-01\.prod\.example\.com' completed successfully/);
  assert.equal(readFileSync(join(b.workdir, 'inputs', 'promises.cf'), 'utf8'), readFileSync(join(hub!.masterfiles, 'promises.cf'), 'utf8'));

  // The name: hostname, hosts, augments.
  assert.equal(readFileSync(join(b.root, 'etc', 'hostname'), 'utf8'), `${b.name}\n`);
  assert.match(readFileSync(join(b.root, 'etc', 'hosts'), 'utf8'), new RegExp(`^${b.instance.privateIp.replace(/\./g, '\\.')}\\t${b.name}\\.prod\\.example\\.com ${b.name}$`, 'm'));
  assert.deepEqual(JSON.parse(readFileSync(join(b.workdir, 'data', 'host_specific.json'), 'utf8')), renderAugments({ spec, name: b.name, generation: 1 }));

  // Converged by the promise summary: the last run of the policy kept everything.
  const o = lastOutcome(b.workdir, 'fleet policy');
  assert.ok(o, 'an outcome of the fleet policy');
  assert.equal(o.notRepaired, 0);

  // Readiness by the contract: the instance tagged itself, through the real AWS CLI.
  const x = await describe1(b.instance.id);
  const at = tagOf(x, CONVERGED_TAG);
  assert.ok(at, `${b.name} is not tagged ${CONVERGED_TAG}`);
  assert.match(at, ISO);
  assert.ok(Date.parse(at) >= Math.floor(b.instance.launchTime.getTime() / 1000) * 1000, 'tagged after launch');
  assert.equal(x?.State?.Name, 'running');

  // IMDSv2 only, and the CLI took the instance profile's credentials from it.
  const gets = b.imds.requests.filter((r) => r.method === 'GET');
  assert.ok(gets.length > 0);
  assert.deepEqual(gets.filter((r) => !r.token), [], 'a metadata read without a session token');
  const paths = new Set(gets.map((r) => r.path));
  for (const p of ['instance-id', 'local-ipv4', 'placement/region', 'iam/security-credentials/fleet-node']) {
    assert.ok(paths.has(`/latest/meta-data/${p}`), `nobody read ${p}: ${[...paths].join(' ')}`);
  }
}

// ---- the tests -----------------------------------------------------------------------------

describe('the bootstrap, for real, in a sandbox', () => {
  let web: Booted | undefined;
  let queue: Booted | undefined;

  test('web-03: hostname, augments, bootstrap to the hub, converged, tagged itself fleet:converged', async () => {
    const inst = await launch('web-03');
    // The cloud does not converge it by itself.
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(tagOf(await describe1(inst.id), CONVERGED_TAG), undefined);

    web = await bootstrap('web-03', inst);
    await assertBootstrapped(web);

    // The classes of web-03, from the augments and the hostname alike, and nothing of another role.
    const classes = classesOf(web);
    for (const c of ['role_web', 'env_prod', 'index_03', 'web_03']) assert.ok(classes.includes(c), `${c} missing: ${classes.join(' ')}`);
    assert.deepEqual(classes, cfengineClasses(parseName('web-03', conventionOf(spec))).sort());
    // What the web role built, in the sandbox's root.
    assert.match(readFileSync(join(web.root, 'etc', 'nginx', 'sites-available', 'fleet.conf'), 'utf8'), /server_name web-03\.prod\.example\.com web-03;/);
    assert.match(readFileSync(join(web.root, 'etc', 'fleet', 'node.env'), 'utf8'), /^FLEET_GENERATION=1$/m);
    // The hub trusted the new instance's key on first contact.
    assert.match(hub!.log(), /Trusting new key/);
    // The bootstrap started cf-execd, inside the sandbox, and it went with the sandbox.
    assert.match(web.run.stdout + web.run.stderr, /Started the scheduler/);
    assert.deepEqual(processesMentioning(web.workdir), []);
  });

  test('a policy change on the hub reaches web-03 on its next agent run (cf-execd), with nothing pushed', async () => {
    assert.ok(web, 'web-03 bootstrapped');
    const index = join(web.root, 'var', 'www', 'fleet', 'index.html');
    assert.equal(statSync(index).mode & 0o777, 0o644);

    // Change a promise in the masterfiles the hub serves: the page becomes 0640.
    const served = join(hub!.masterfiles, 'services', 'web.cf');
    const text = readFileSync(served, 'utf8');
    const at = text.indexOf('"$(docroot)/index.html"');
    assert.ok(at > 0);
    const mode = text.indexOf('perms => fleet_mode("0644")', at);
    assert.ok(mode > at);
    writeFileSync(served, text.slice(0, mode) + 'perms => fleet_mode("0640")' + text.slice(mode + 'perms => fleet_mode("0644")'.length));

    // The next scheduled run, exactly as cf-execd makes it (its exec_command: update.cf, then promises.cf).
    const before = outcomes(web.workdir).length;
    const r = await inSandbox({ ...web.sandbox, waitForAll: true }, ['cf-execd', '--once'], 60_000);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const runs = outcomes(web.workdir).slice(before);
    assert.deepEqual(runs.map((o) => o.version), ['fleet update', 'fleet policy'], `cf-execd ran the update, then the policy:\n${execdOutput(web.workdir)}`);
    assert.ok(runs[0]!.repaired > 0, 'the update fetched the change');
    assert.ok(runs[1]!.repaired > 0 && runs[1]!.notRepaired === 0, 'the policy applied it');
    assert.equal(readFileSync(join(web.workdir, 'inputs', 'services', 'web.cf'), 'utf8'), readFileSync(served, 'utf8'));
    assert.equal(statSync(index).mode & 0o777, 0o640);

    // And the run after that is converged: nothing fetched, nothing repaired.
    const again = await inSandbox({ ...web.sandbox, waitForAll: true }, ['cf-execd', '--once'], 60_000);
    assert.equal(again.status, 0, `${again.stdout}${again.stderr}`);
    const next = outcomes(web.workdir).slice(before + 2);
    assert.deepEqual(next.map((o) => [o.version, o.repaired, o.notRepaired]), [
      ['fleet update', 0, 0],
      ['fleet policy', 0, 0],
    ]);
  });

  test('queue-01 gets the queue role\'s classes, not web\'s, and its volume\'s mount point', async () => {
    const q = (queue = await bootstrap('queue-01', await launch('queue-01')));
    await assertBootstrapped(q);
    const classes = classesOf(q);
    for (const c of ['role_queue', 'env_prod', 'index_01', 'queue_01']) assert.ok(classes.includes(c), `${c} missing: ${classes.join(' ')}`);
    for (const c of ['role_web', 'index_03', 'web_03']) assert.ok(!classes.includes(c), `${c} on queue-01`);
    assert.match(readFileSync(join(q.root, 'etc', 'fstab'), 'utf8'), /^LABEL=fleet-queue \/var\/lib\/queue ext4 defaults,noatime,nofail 0 2$/m);
    assert.ok(existsSync(join(q.root, 'var', 'lib', 'queue')));
    assert.equal(existsSync(join(q.root, 'etc', 'nginx')), false, 'no web site on a queue');
  });

  test('queue-01: once its volume is attached and mounted, an agent run reports it: the instance tags itself fleet:mounted=<volume id>, once', async () => {
    const q = queue;
    assert.ok(q, 'queue-01 bootstrapped');
    // Converged without a volume: nothing reported yet.
    assert.equal(tagOf(await describe1(q.instance.id), MOUNTED_TAG), undefined);
    assert.equal(existsSync(join(q.root, 'var', 'lib', 'fleet', 'mounted')), false);
    const helper = join(q.root, 'usr', 'local', 'sbin', 'fleet-report-mounted');
    assert.equal(statSync(helper).mode & 0o777, 0o755, 'the bootstrap installed fleet-report-mounted');

    // fleet attaches the name's volume at the role's device (here through the SDK, as ops does).
    const v = await ec2!.send(new CreateVolumeCommand({ AvailabilityZone: q.instance.az, Size: 10, VolumeType: 'gp3' }));
    const volumeId = v.VolumeId!;
    const volState = async (): Promise<string | undefined> => {
      const d = await ec2!.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }));
      const x = d.Volumes?.[0];
      return x?.Attachments?.[0]?.State ?? x?.State;
    };
    for (let i = 0; (await volState()) !== 'available'; i++) {
      assert.ok(i < 200, 'the volume never became available');
      await new Promise((res) => setTimeout(res, 25));
    }
    await ec2!.send(new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: q.instance.id, Device: '/dev/sdf' }));
    for (let i = 0; (await volState()) !== 'attached'; i++) {
      assert.ok(i < 200, 'the volume never attached');
      await new Promise((res) => setTimeout(res, 25));
    }

    // In the sandbox's own mount namespace the volume's mount point is a mount (a tmpfs stands in
    // for the filesystem); two agent runs: the first reports, the second finds it reported.
    const before = outcomes(q.workdir).length;
    const mountPoint = join(q.root, 'var', 'lib', 'queue');
    const r = await inSandbox(q.sandbox, ['sh', '-c', 'mount -t tmpfs fleet-volume "$0" && cf-agent -K -I && cf-agent -K -I', mountPoint], 120_000);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const reports = (r.stdout + r.stderr).match(/Completed execution of '[^']*\/usr\/local\/sbin\/fleet-report-mounted \/dev\/sdf'/g) ?? [];
    assert.equal(reports.length, 1, `the agent ran fleet-report-mounted once in two runs:\n${r.stdout}${r.stderr}`);
    assert.equal(tagOf(await describe1(q.instance.id), MOUNTED_TAG), volumeId, 'the instance tagged itself with the volume it mounted');
    assert.equal(readFileSync(join(q.root, 'var', 'lib', 'fleet', 'mounted'), 'utf8'), `${volumeId}\n`);
    const runs = outcomes(q.workdir).filter((o) => o.version === 'fleet policy').slice(-2);
    assert.equal(outcomes(q.workdir).length - before, 2);
    assert.ok(runs[0]!.repaired > 0 && runs[0]!.notRepaired === 0, 'the first run reported the mount');
    assert.deepEqual([runs[1]!.repaired, runs[1]!.notRepaired], [0, 0], 'the second run repaired nothing: reported once');
    // The mount lived and died with the sandbox's mount namespace.
    assert.equal(spawnSync('mountpoint', ['-q', mountPoint]).status !== 0, true, 'the tmpfs is not mounted on this machine');

    // A report holds while its mount does: unmounted, the next run drops it; mounted again, the
    // run after reports again (the same volume here: the tag keeps its value).
    const unmounted = await inSandbox(q.sandbox, ['cf-agent', '-K', '-I'], 120_000);
    assert.equal(unmounted.status, 0, `${unmounted.stdout}${unmounted.stderr}`);
    assert.equal(existsSync(join(q.root, 'var', 'lib', 'fleet', 'mounted')), false, 'the report went with the mount');
    const remount = await inSandbox(q.sandbox, ['sh', '-c', 'mount -t tmpfs fleet-volume "$0" && cf-agent -K -I', mountPoint], 120_000);
    assert.equal(remount.status, 0, `${remount.stdout}${remount.stderr}`);
    assert.equal((remount.stdout + remount.stderr).match(/Completed execution of '[^']*\/usr\/local\/sbin\/fleet-report-mounted \/dev\/sdf'/g)?.length, 1, 'reported again once mounted again');
    assert.equal(readFileSync(join(q.root, 'var', 'lib', 'fleet', 'mounted'), 'utf8'), `${volumeId}\n`);
    assert.equal(tagOf(await describe1(q.instance.id), MOUNTED_TAG), volumeId);
    const last = outcomes(q.workdir).filter((o) => o.version === 'fleet policy').at(-1)!;
    assert.equal(last.notRepaired, 0);
  });

  test('a hub whose ACL does not admit the client serves it nothing (the default ACL is the VPC, 10.0.0.0/16)', async () => {
    const closed = await startHub(join(work, 'hub-vpc-only'));
    hubPids.push(closed.pid);
    try {
      const dir = mkdtempSync(join(work, 'outsider-'));
      const workdir = makeWorkdir(join(dir, 'cfwork'));
      const hosts = join(dir, 'hosts');
      put(hosts, `127.0.0.1\tlocalhost\n${HUB_ADDRESS}\thub-01.prod.example.com hub-01\n`);
      const services = join(dir, 'services');
      put(services, servicesWithCfenginePort(closed.port));
      const r = await inSandbox(
        { hostname: 'web-09', hosts, services, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', CFENGINE_TEST_OVERRIDE_WORKDIR: workdir, FLEET_ROOT: join(dir, 'root') } },
        ['cf-agent', '--bootstrap', 'hub-01.prod.example.com'],
        60_000,
      );
      assert.notEqual(r.status, 0, `bootstrapped through a closed ACL:\n${r.stdout}${r.stderr}`);
      assert.match(`${r.stdout}${r.stderr}`, /Bootstrapping failed|Failed to copy policy/);
      assert.equal(existsSync(join(workdir, 'inputs', 'promises.cf')), false, 'no policy came through');
      assert.match(closed.log(), /Remote host '127\.0\.0\.1' not in allowconnects, denying connection/);
    } finally {
      await closed.stop();
    }
  });
});
