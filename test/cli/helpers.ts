/** Drive the real CLI (in-process through runCli, or as a child process) against a local cloud. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { runCli } from '../../src/cli/run.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A small fleet for tests; `extra` is appended (YAML text). */
export function fleetYaml(opts: { fleet?: string; zone?: string; web?: number; api?: number; digits?: number; extraRoles?: string; recordQuota?: number } = {}): string {
  return `fleet: ${opts.fleet ?? 'demo'}
region: us-east-1
dns:
  zone: ${opts.zone ?? 'prod.example.com'}
  ttl: 60
${opts.recordQuota !== undefined ? `  record-quota: ${opts.recordQuota}\n` : ''}naming:
  index-digits: ${opts.digits ?? 2}
hub: hub-${'1'.padStart(opts.digits ?? 2, '0')}
journal:
  bucket: ${opts.fleet ?? 'demo'}-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001, subnet-0bb00000000000002]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub:
    count: 1
    type: t3.small
  web:
    count: ${opts.web ?? 3}
    type: t3.medium
    market: spot
  api:
    count: ${opts.api ?? 2}
    type: m5.large
${opts.extraRoles ?? ''}`;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'fleet-test-'));
}

export function writeConfig(text: string, dir = tempDir()): string {
  const file = join(dir, 'fleet.yaml');
  writeFileSync(file, text);
  return file;
}

/** Run the CLI in-process with its own streams and environment. */
export async function fleet(args: string[], opts: { endpoint?: string; cwd?: string; env?: Record<string, string | undefined>; isTTY?: boolean; answer?: string } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const env: Record<string, string | undefined> = { PATH: process.env['PATH'], ...(opts.endpoint ? { AWS_ENDPOINT_URL: opts.endpoint } : {}), ...(opts.env ?? {}) };
  const code = await runCli(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
    isTTY: opts.isTTY ?? false,
    cwd: opts.cwd ?? process.cwd(),
    stdinIsTTY: opts.answer !== undefined,
    ask: async (q: string) => {
      stderr += q;
      return opts.answer ?? '';
    },
  });
  return { code, stdout, stderr };
}

/** Run the real bin as a child process. */
export function fleetProcess(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...opts.env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fleet ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 30000} ms; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 30000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}
