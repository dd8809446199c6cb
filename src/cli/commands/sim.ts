import { InputError } from '../../errors.js';
import { MAX_SPEED } from '../../sim/clock.js';

/** Longest simulated delay a flag sets: a week (as the control endpoint's knobs). */
const MAX_DELAY_MS = 7 * 24 * 3600 * 1000;
import { startLocalCloud, urlSink, type LocalCloudOptions } from '../../sim/index.js';
import type { CliIo } from '../io.js';

export interface SimCliOptions {
  port: string;
  speed: string;
  throttling: boolean;
  bootMs?: string;
  convergeMs?: string;
  dnsSyncMs?: string;
  eventSink?: string;
}

function number(flag: string, v: string, opts: { min: number; max?: number; integer?: boolean }): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < opts.min || (opts.max !== undefined && n > opts.max) || (opts.integer && !Number.isInteger(n))) {
    throw new InputError(`${flag} ${JSON.stringify(v)}: expected ${opts.integer ? 'a whole number' : 'a number'} ${opts.max !== undefined ? `from ${opts.min} to ${opts.max}` : `>= ${opts.min}`}`);
  }
  return n;
}

export async function runSim(o: SimCliOptions, json: boolean, io: CliIo): Promise<void> {
  const port = number('--port', o.port, { min: 0, max: 65535, integer: true });
  const speed = number('--speed', o.speed, { min: 0.001, max: MAX_SPEED });
  const delays: LocalCloudOptions['delays'] = {};
  if (o.bootMs !== undefined) delays.bootMs = number('--boot-ms', o.bootMs, { min: 0, max: MAX_DELAY_MS });
  if (o.convergeMs !== undefined) delays.convergeMs = number('--converge-ms', o.convergeMs, { min: 0, max: MAX_DELAY_MS });
  if (o.dnsSyncMs !== undefined) delays.dnsSyncMs = number('--dns-sync-ms', o.dnsSyncMs, { min: 0, max: MAX_DELAY_MS });
  let sinkUrl: string | undefined;
  if (o.eventSink !== undefined) {
    if (!/^https?:\/\//.test(o.eventSink)) throw new InputError(`--event-sink ${JSON.stringify(o.eventSink)}: expected an http(s) URL`);
    sinkUrl = o.eventSink;
  }
  const sink = sinkUrl ? urlSink(sinkUrl, (m) => io.stderr.write(`fleet sim: ${m}\n`)) : undefined;
  let cloud;
  try {
    cloud = await startLocalCloud({ port, clockSpeed: speed, throttling: o.throttling, delays, ...(sink ? { eventSink: sink } : {}) });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new InputError(`--port ${port}: 127.0.0.1:${port} is already in use; pick another port or --port 0`);
    throw err;
  }
  if (json) io.stdout.write(JSON.stringify({ endpoint: cloud.endpoint, region: cloud.control.region, control: `${cloud.endpoint}/_sim/` }) + '\n');
  else
    io.stdout.write(
      `local cloud (EC2, Route 53, S3, EBS) listening on ${cloud.endpoint}\n` +
        `  export AWS_ENDPOINT_URL=${cloud.endpoint} AWS_REGION=${cloud.control.region}\n` +
        `  fault knobs and clock: ${cloud.endpoint}/_sim/ (see src/sim/index.ts)\n` +
        `  Ctrl-C stops it\n`,
    );
  await (io.stopSignal ?? new Promise<void>(() => {}));
  await cloud.close();
}
