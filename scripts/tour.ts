/**
 * The README's main command: a short tour of fleet on the embedded local cloud, no AWS account.
 * Starts the local cloud, then runs the real `fleet` CLI against it step by step.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { ChangeResourceRecordSetsCommand, ListHostedZonesByNameCommand, Route53Client } from '@aws-sdk/client-route-53';
import { EC2Client } from '@aws-sdk/client-ec2';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function step(title: string): void {
  process.stdout.write(`\n${bold(`== ${title}`)}\n`);
}

function fleet(env: NodeJS.ProcessEnv, ...args: string[]): void {
  process.stdout.write(`${bold('$ fleet ' + args.join(' '))}\n`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`fleet ${args.join(' ')} exited ${r.status}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  // The local cloud runs 20 times faster than real time, and so does fleet (--time-scale 20):
  // a 60 s TTL wait takes 3 s here, as every other wait does.
  const speed = 20;
  step(`start the local cloud (EC2, Route 53, S3, EBS on 127.0.0.1; its clock runs ${speed}x)`);
  const sim = spawn(process.execPath, [cli, 'sim', '--port', '0', '--json', '--speed', String(speed)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: sim.stdout! });
    rl.once('line', resolve);
    sim.once('exit', (code) => reject(new Error(`fleet sim exited ${code}`)));
  });
  const { endpoint, region } = JSON.parse(line) as { endpoint: string; region: string };
  process.stdout.write(`$ fleet sim --speed ${speed}\nlocal cloud listening on ${endpoint}\n`);
  const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_REGION: region, AWS_ACCESS_KEY_ID: 'AKIDLOCALCLOUD', AWS_SECRET_ACCESS_KEY: 'local-cloud' };
  const sdk = { endpoint, region, credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'local-cloud' } };
  const r53 = new Route53Client(sdk);
  const ec2 = new EC2Client(sdk);
  const fast = ['--time-scale', String(speed), '--poll-ms', '2000'];
  try {
    step('check fleet.yaml');
    fleet(env, 'validate');

    step('create the hosted zone and the journal bucket (a second init does nothing)');
    fleet(env, 'init');
    fleet(env, 'init');

    step('the inventory of an empty zone: every desired name is missing');
    fleet(env, 'ls', '--role', 'web');

    step('by hand, through the AWS SDK: a record for web-01 that points at an address nobody has');
    const zones = await r53.send(new ListHostedZonesByNameCommand({ DNSName: 'prod.example.com', MaxItems: 1 }));
    const zoneId = zones.HostedZones![0]!.Id!;
    await r53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: { Changes: [{ Action: 'CREATE', ResourceRecordSet: { Name: 'web-01.prod.example.com', Type: 'A', TTL: 60, ResourceRecords: [{ Value: '10.0.99.99' }] } }] },
      }),
    );
    process.stdout.write('ChangeResourceRecordSets -> CREATE web-01.prod.example.com A 10.0.99.99\n');
    fleet(env, 'ls', '--role', 'web');

    step('what apply would do');
    fleet(env, 'plan');

    step('apply: launch every name (spot and on-demand roles, the policy hub), wait until each converges, then write its record');
    fleet(env, 'apply', '--yes', ...fast);

    step('the fleet');
    fleet(env, 'ls');

    step('apply again: nothing to do, nothing changed');
    fleet(env, 'apply', '--yes', ...fast);

    step('replace web-03 by a bigger one with the same name: launch, converge, swap DNS, wait the TTL, kill the small one');
    fleet(env, 'upgrade', 'web-03', '--type', 'm5.large', '--yes', ...fast);

    step('kill web-02: its record now points at a dead instance');
    fleet(env, 'kill', 'web-02', '--yes', ...fast);
    fleet(env, 'ls', '--role', 'web');

    step('apply rebuilds web-02 (generation 2) and swaps its record');
    fleet(env, 'apply', '--yes', ...fast);
    fleet(env, 'ls', '--role', 'web');

    step('EC2 takes spot instance web-01 back (two minutes notice): the local cloud emits the warning in AWS\'s exact shape');
    const inv = JSON.parse(spawnSync(process.execPath, [cli, '--json', 'ls', '--role', 'web'], { cwd: root, env, encoding: 'utf8' }).stdout) as { rows: { name: string; instance?: { id: string } }[] };
    const victim = inv.rows.find((r) => r.name === 'web-01')!.instance!.id;
    const res = await fetch(`${endpoint}/_sim/spot-interrupt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instanceId: victim }) });
    const warning = await res.text();
    const eventFile = join(mkdtempSync(join(tmpdir(), 'fleet-tour-')), 'warning.json');
    writeFileSync(eventFile, warning);
    process.stdout.write(`POST /_sim/spot-interrupt -> ${warning}\n`);

    step('the spot handler (the Lambda, here from the CLI) replaces web-01 into another pool before the two minutes are up');
    fleet(env, 'handle-event', eventFile, ...fast);
    fleet(env, 'handle-event', eventFile, ...fast);
    fleet(env, 'ls', '--role', 'web');

    step('pool memory: every launch avoids the interrupted pool for a while (kept in S3, shared with the Lambda)');
    fleet(env, 'pools', '--time-scale', String(speed));

    step('for scripts: --json (here only the summary)');
    process.stdout.write(`${bold('$ fleet --json ls')}\n`);
    const json = spawnSync(process.execPath, [cli, '--json', 'ls'], { cwd: root, env, encoding: 'utf8' });
    if (json.status !== 0) throw new Error(`fleet --json ls exited ${json.status}: ${json.stderr}`);
    process.stdout.write(`{ "summary": ${JSON.stringify((JSON.parse(json.stdout) as { summary: unknown }).summary)}, "rows": [...], "orphans": [...] }\n`);
    void ec2;
  } finally {
    r53.destroy();
    ec2.destroy();
    sim.kill('SIGTERM');
  }
  process.stdout.write(`\n${bold(`tour done in ${((Date.now() - started) / 1000).toFixed(1)} s.`)} Next: \`npm test\` runs every test; \`npm run fleet -- --help\` lists the commands.\n`);
}

main().catch((err) => {
  process.stderr.write(`tour failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
