/** `fleet sim` as users run it: the real bin, the endpoint it prints, and its --event-sink. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { BIN } from './helpers.js';

test('fleet sim prints its endpoint and posts EventBridge-shaped events to --event-sink', async () => {
  const events: Record<string, unknown>[] = [];
  const sink = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      events.push(JSON.parse(body) as Record<string, unknown>);
      res.end();
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/events`;
  const sim = spawn(process.execPath, [BIN, 'sim', '--port', '0', '--json', '--boot-ms', '10', '--event-sink', sinkUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: sim.stdout! }).once('line', resolve);
      sim.once('exit', (c) => reject(new Error(`fleet sim exited ${c}`)));
    });
    const { endpoint } = JSON.parse(line) as { endpoint: string };
    assert.match(endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const ec2 = new EC2Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'x' } });
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0123456789abcdef0',
        InstanceType: 't3.small',
        MinCount: 1,
        MaxCount: 1,
        InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } },
      }),
    );
    ec2.destroy();
    const id = run.Instances![0]!.InstanceId!;
    // Running after the boot delay; then interrupt it through the HTTP control endpoint.
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      const r = await fetch(`${endpoint}/_sim/spot-interrupt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instanceId: id }) });
      ok = r.ok;
      if (!ok) await new Promise((res) => setTimeout(res, 20));
    }
    assert.ok(ok, 'the spot interruption was accepted');
    for (let i = 0; i < 200 && !events.some((e) => e['detail-type'] === 'EC2 Spot Instance Interruption Warning'); i++) await new Promise((res) => setTimeout(res, 10));
    const warning = events.find((e) => e['detail-type'] === 'EC2 Spot Instance Interruption Warning');
    assert.ok(warning, `the sink got the warning: ${JSON.stringify(events)}`);
    assert.equal(warning['source'], 'aws.ec2');
    assert.deepEqual(warning['detail'], { 'instance-id': id, 'instance-action': 'terminate' });
  } finally {
    sim.kill('SIGTERM');
    sink.close();
  }
});
