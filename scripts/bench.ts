/**
 * `npm run bench`: performance targets as counts and ratios, never as timed tests.
 *
 * Inventory (`fleet ls`) for 1,000, 10,000 and 100,000 names: API calls made against the
 * minimum (ceil(records/300) record pages + ceil(instances/1000) instance pages + 1 zone
 * lookup), wall time, and peak memory of the CLI and of the local cloud, each measured in its
 * own process. Set FLEET_BENCH_SIZES=1000,10000 to run fewer sizes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const rusage = join(root, 'scripts', 'rusage.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  maxRssBytes: number;
}

function runFleet(args: string[], env: Record<string, string>): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-bench-'));
  const rusageFile = join(dir, 'rusage.json');
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', rusage, cli, ...args], {
      cwd: root,
      env: { ...process.env, ...env, FLEET_RUSAGE_FILE: rusageFile, CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - started;
      let maxRssBytes = 0;
      try {
        maxRssBytes = (JSON.parse(readFileSync(rusageFile, 'utf8')) as { maxRssBytes: number }).maxRssBytes;
      } catch {
        /* the process died before its exit hook */
      }
      resolve({ code: code ?? 1, stdout, stderr, ms, maxRssBytes });
    });
  });
}

async function control(endpoint: string, path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST'): Promise<any> {
  const r = await fetch(`${endpoint}/_sim${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`control ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function startSim(): Promise<{ endpoint: string; stop: () => void }> {
  const child = spawn(process.execPath, [cli, 'sim', '--port', '0', '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`fleet sim exited ${c}`)));
  });
  return { endpoint: (JSON.parse(line) as { endpoint: string }).endpoint, stop: () => child.kill('SIGTERM') };
}

function fleetYaml(n: number): string {
  return `fleet: bench
region: us-east-1
dns:
  zone: bench.example.com
naming:
  index-digits: 6
hub: web-000001
journal:
  bucket: bench-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001]
  security-groups: [sg-0123456789abcdef0]
roles:
  web:
    count: ${n}
    type: t3.medium
`;
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;

async function benchInventory(n: number): Promise<Record<string, string | number>> {
  const sim = await startSim();
  try {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-bench-'));
    const config = join(dir, 'fleet.yaml');
    writeFileSync(config, fleetYaml(n));
    const env = { AWS_ENDPOINT_URL: sim.endpoint, AWS_REGION: 'us-east-1' };
    const init = await runFleet(['init', '--config', config], env);
    if (init.code !== 0) throw new Error(`fleet init failed: ${init.stderr}`);
    const name = (i: number) => `web-${String(i + 1).padStart(6, '0')}`;
    const ids: string[] = [];
    for (let start = 0; start < n; start += 20_000) {
      const chunk = Array.from({ length: Math.min(20_000, n - start) }, (_, k) => ({
        instanceType: 't3.medium',
        az: ['us-east-1a', 'us-east-1b', 'us-east-1c'][(start + k) % 3],
        market: (start + k) % 2 ? 'spot' : 'on-demand',
        converged: true,
        tags: { 'fleet:fleet': 'bench', 'fleet:name': name(start + k), 'fleet:role': 'web', 'fleet:generation': '1' },
      }));
      const out = await control(sim.endpoint, '/seed/instances', { instances: chunk });
      ids.push(...(out.instanceIds as string[]));
    }
    // Addresses come from the cloud's own view of the seeded instances.
    const ipsOut = await runFleet(['--json', 'ls', '--config', config], env);
    const inv = JSON.parse(ipsOut.stdout) as { orphans: { instance: { id: string; privateIp: string; name: string } }[] };
    const records = inv.orphans.map((o) => ({ name: `${o.instance.name}.bench.example.com`, type: 'A', ttl: 60, values: [o.instance.privateIp] }));
    for (let start = 0; start < records.length; start += 20_000) {
      await control(sim.endpoint, '/seed/records', { zone: 'bench.example.com', records: records.slice(start, start + 20_000) });
    }

    await control(sim.endpoint, '/calls/reset', {});
    const ls = await runFleet(['--json', 'ls', '--config', config], env);
    if (ls.code !== 0) throw new Error(`fleet ls failed: ${ls.stderr}`);
    const result = JSON.parse(ls.stdout) as { summary: { served: number; names: number } };
    const calls = (await control(sim.endpoint, '/calls')) as Record<string, number>;
    const health = await control(sim.endpoint, '/health');
    const total = Object.values(calls).reduce((a, b) => a + b, 0);
    const recordSets = n + 2; // + SOA and NS at the apex
    const minimum = Math.ceil(recordSets / 300) + Math.ceil(n / 1000) + 1;
    if (result.summary.served !== n) throw new Error(`expected ${n} served names, got ${result.summary.served}`);
    return {
      names: n,
      'API calls': total,
      minimum,
      'calls / minimum': (total / minimum).toFixed(2),
      'record pages': calls['route53:ListResourceRecordSets'] ?? 0,
      'instance pages': calls['ec2:DescribeInstances'] ?? 0,
      'wall time': `${(ls.ms / 1000).toFixed(2)} s`,
      'CLI peak RSS': mb(ls.maxRssBytes),
      'local cloud peak RSS': mb(health.maxRssBytes as number),
    };
  } finally {
    sim.stop();
  }
}

function printTable(rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(width[i]!)).join('  ');
  console.log(line(cols));
  for (const r of rows) console.log(line(cols.map((c) => String(r[c]))));
}

async function main(): Promise<void> {
  const sizes = (process.env['FLEET_BENCH_SIZES'] ?? '1000,10000,100000').split(',').map(Number);
  console.log('fleet ls — API calls against the minimum, wall time, peak memory');
  const rows: Record<string, string | number>[] = [];
  for (const n of sizes) rows.push(await benchInventory(n));
  printTable(rows);
}

main().catch((err) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
