/**
 * The README's main command: a short tour of fleet on the embedded local cloud, no AWS account.
 * Starts the local cloud, then runs the real `fleet` CLI against it step by step.
 */
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { ChangeResourceRecordSetsCommand, ListHostedZonesByNameCommand, Route53Client } from '@aws-sdk/client-route-53';
import { EC2Client, RunInstancesCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { BOOTSTRAP_MARKER } from '../src/bootstrap/marker.js';

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
  step('start the local cloud (EC2, Route 53, S3, EBS on 127.0.0.1)');
  const sim = spawn(process.execPath, [cli, 'sim', '--port', '0', '--json', '--boot-ms', '500', '--converge-ms', '1500'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: sim.stdout! });
    rl.once('line', resolve);
    sim.once('exit', (code) => reject(new Error(`fleet sim exited ${code}`)));
  });
  const { endpoint, region } = JSON.parse(line) as { endpoint: string; region: string };
  process.stdout.write(`$ fleet sim --port 0\nlocal cloud listening on ${endpoint}\n`);
  const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_REGION: region, AWS_ACCESS_KEY_ID: 'AKIDLOCALCLOUD', AWS_SECRET_ACCESS_KEY: 'local-cloud' };
  const sdk = { endpoint, region, credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'local-cloud' } };
  const r53 = new Route53Client(sdk);
  const ec2 = new EC2Client(sdk);
  try {
    step('check fleet.yaml');
    fleet(env, 'validate');

    step('create the hosted zone and the journal bucket');
    fleet(env, 'init');
    process.stdout.write('(again: init does nothing when they exist)\n');
    fleet(env, 'init');

    step('the inventory of an empty zone: every desired name is missing');
    fleet(env, 'ls', '--role', 'web');

    step('by hand, through the AWS SDK: launch web-01 and point its record at it; point web-02 at an address nobody has');
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0123456789abcdef0',
        InstanceType: 't3.medium',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: 'subnet-0aa00000000000001',
        MetadataOptions: { HttpTokens: 'required' },
        UserData: Buffer.from(`#!/bin/sh\n${BOOTSTRAP_MARKER}\n`).toString('base64'),
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'fleet:fleet', Value: 'demo' },
              { Key: 'fleet:name', Value: 'web-01' },
              { Key: 'fleet:role', Value: 'web' },
              { Key: 'fleet:generation', Value: '1' },
              { Key: 'Name', Value: 'web-01.prod.example.com' },
            ],
          },
        ],
      }),
    );
    const id = run.Instances![0]!.InstanceId!;
    const ip = run.Instances![0]!.PrivateIpAddress!;
    process.stdout.write(`RunInstances -> ${id} (${ip}); waiting for it to report convergence…\n`);
    for (let i = 0; i < 100; i++) {
      const d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      if (d.Reservations?.[0]?.Instances?.[0]?.Tags?.some((t) => t.Key === 'fleet:converged')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const zones = await r53.send(new ListHostedZonesByNameCommand({ DNSName: 'prod.example.com', MaxItems: 1 }));
    const zoneId = zones.HostedZones![0]!.Id!;
    await r53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {
          Changes: [
            { Action: 'CREATE', ResourceRecordSet: { Name: 'web-01.prod.example.com', Type: 'A', TTL: 60, ResourceRecords: [{ Value: ip }] } },
            { Action: 'CREATE', ResourceRecordSet: { Name: 'web-02.prod.example.com', Type: 'A', TTL: 60, ResourceRecords: [{ Value: '10.0.99.99' }] } },
          ],
        },
      }),
    );
    process.stdout.write('ChangeResourceRecordSets -> CREATE web-01 A ' + ip + ', CREATE web-02 A 10.0.99.99\n');

    step('the inventory again: web-01 is served, web-02 points at nothing, the rest are missing');
    fleet(env, 'ls', '--role', 'web');

    step('the same, for scripts: --json (here only its summary)');
    process.stdout.write(`${bold('$ fleet --json ls --role web')}\n`);
    const json = spawnSync(process.execPath, [cli, '--json', 'ls', '--role', 'web'], { cwd: root, env, encoding: 'utf8' });
    if (json.status !== 0) throw new Error(`fleet --json ls exited ${json.status}: ${json.stderr}`);
    process.stdout.write(`{ "summary": ${JSON.stringify((JSON.parse(json.stdout) as { summary: unknown }).summary)}, "rows": [...], "orphans": [...] }\n`);
  } finally {
    r53.destroy();
    ec2.destroy();
    sim.kill('SIGTERM');
  }
  process.stdout.write(`\n${bold('tour done.')} Next: \`npm test\` runs every test; \`npm run fleet -- --help\` lists the commands.\n`);
}

main().catch((err) => {
  process.stderr.write(`tour failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
