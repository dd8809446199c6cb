/**
 * `fleet handle-event [FILE]`: the spot-interruption handler from the command line (the same
 * flow as the Lambda, src/ops/interruption.ts), on one EventBridge event or an array of them,
 * from FILE or standard input. `fleet pools`: what pool memory avoids now, and until when.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import PQueue from 'p-queue';
import { InputError } from '../../errors.js';
import type { FleetSpec } from '../../model.js';
import { handleEvents, type EventOutcome, type InterruptionDeps } from '../../ops/interruption.js';
import { loadPoolMemory, usePoolMemory } from '../../ops/pools.js';
import { interruptionSettings } from '../../plan/pools.js';
import type { CliIo } from '../io.js';
import { makeOpsDeps, opsClock, type OpsCliOptions } from '../opsdeps.js';
import type { Deps } from '../wiring.js';

export interface HandleEventOptions extends OpsCliOptions {
  dryRun?: boolean;
  /** Serve events POSTed to this port on 127.0.0.1 (a local EventBridge for `fleet sim --event-sink`). */
  listen?: string;
}

/** The default wait for a name someone else holds: an operator's upgrade finishes, then the event is re-checked. */
import { HANDLER_LOCK_WAIT } from '../paths.js';
export { HANDLER_LOCK_WAIT };

/** The event text as JSON; malformed JSON is bad input (exit 2) naming where it came from. */
export function readEventInput(text: string, where: string): unknown {
  if (text.trim() === '') throw new InputError(`${where}: empty; expected an EventBridge event (a JSON object) or an array of them`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InputError(`${where}: not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function handlerDeps(spec: FleetSpec, deps: Deps, io: CliIo, json: boolean, o: HandleEventOptions): Promise<InterruptionDeps> {
  const ops = await makeOpsDeps(spec, deps, io, json, { ...o, wait: o.wait ?? HANDLER_LOCK_WAIT });
  const records = deps.records(spec.journal.bucket, spec.journal.prefix);
  // The handler writes to the memory too: one instance for its launches and its records.
  const pools = await loadPoolMemory(records, spec, ops.clock.now(), ops.log);
  usePoolMemory(ops, pools);
  return Object.assign(ops, { records, pools });
}

export async function handleEventCommand(spec: FleetSpec, file: string | undefined, deps: Deps, io: CliIo, json: boolean, o: HandleEventOptions): Promise<number> {
  if (o.listen !== undefined) {
    if (file !== undefined) throw new InputError('give FILE or --listen, not both');
    return listen(spec, deps, io, json, o);
  }
  let text: string;
  const where = file ?? 'standard input';
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new InputError(`${file}: cannot read it (${(err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err))})`);
    }
  } else {
    if (!io.readStdin || io.stdinIsTTY) throw new InputError('no event: give FILE, or pipe the event into standard input');
    text = await io.readStdin();
  }
  const raw = readEventInput(text, where);
  const hdeps = await handlerDeps(spec, deps, io, json, o);
  const outcomes = await handleEvents(hdeps, raw, { dryRun: Boolean(o.dryRun) });
  if (json) io.stdout.write(JSON.stringify({ dryRun: Boolean(o.dryRun), outcomes }, null, 2) + '\n');
  else for (const x of outcomes) io.stdout.write(renderOutcome(x));
  return outcomes.some((x) => x.status === 'failed') ? 1 : 0;
}

const MAX_EVENT_BYTES = 1024 * 1024;

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_EVENT_BYTES) {
        reject(new Error(`larger than ${MAX_EVENT_BYTES} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * `--listen PORT`: a local EventBridge target. Events POSTed as JSON (`fleet sim --event-sink
 * http://127.0.0.1:PORT/`) are answered 202 at once and handled in arrival order, a few at a
 * time (the name locks keep two events of one name apart); malformed JSON is answered 400.
 * Prints the URL first; stops on Ctrl-C / SIGTERM once the events in hand are handled.
 */
async function listen(spec: FleetSpec, deps: Deps, io: CliIo, json: boolean, o: HandleEventOptions): Promise<number> {
  const port = Number(o.listen);
  if (!/^\d+$/.test(o.listen ?? '') || port > 65535) throw new InputError(`--listen ${JSON.stringify(o.listen)}: expected a port number (0 picks a free one)`);
  const hdeps = await handlerDeps(spec, deps, io, json, o);
  const queue = new PQueue({ concurrency: 4 });
  let failed = 0;
  const server = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    body(req).then(
      (text) => {
        let raw: unknown;
        try {
          raw = readEventInput(text, 'the request body');
        } catch (err) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }) + '\n');
          return;
        }
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true}\n');
        void queue.add(async () => {
          const outcomes = await handleEvents(hdeps, raw, { dryRun: Boolean(o.dryRun) });
          for (const x of outcomes) {
            if (x.status === 'failed') failed++;
            if (json) io.stdout.write(JSON.stringify(x) + '\n');
            else if (x.status !== 'ignored' || o.verbose) io.stdout.write(renderOutcome(x));
          }
        });
      },
      (err: unknown) => res.writeHead(413).end(`${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new InputError(`--listen ${port}: ${err.message}`)));
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/`;
  io.stdout.write(json ? JSON.stringify({ listening: url }) + '\n' : `handling events POSTed to ${url} (fleet sim --event-sink ${url}); Ctrl-C stops\n`);
  await (io.stopSignal ?? new Promise<void>(() => {}));
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
  await queue.onIdle();
  return failed > 0 ? 1 : 0;
}

function renderOutcome(x: EventOutcome): string {
  const head = `${x.status}${x.eventId ? ` ${x.eventId}` : ''} (${x.kind})`;
  if (x.subjects.length === 0) return `${head}: ${x.detail}\n`;
  return `${head}\n${x.subjects.map((s) => `  ${s.status === 'failed' ? 'FAILED' : s.status}: ${s.instanceId}${s.name ? ` (${s.name})` : ''}: ${s.status === 'would-do' || s.status === 'ignored' ? s.detail : `${s.action}: ${s.detail}`}\n`).join('')}`;
}

export async function poolsCommand(spec: FleetSpec, deps: Deps, io: CliIo, json: boolean, o: OpsCliOptions): Promise<number> {
  const clock = await opsClock(deps, o);
  const now = clock.now();
  const memory = await loadPoolMemory(deps.records(spec.journal.bucket, spec.journal.prefix), spec, now);
  const avoided = memory.avoidPools(now);
  const onDemand = memory.onDemandRoles(now);
  const s = interruptionSettings(spec);
  if (json) {
    io.stdout.write(JSON.stringify({ now: now.toISOString(), avoided, onDemand, interruptions: memory.records, settings: s }, null, 2) + '\n');
    return 0;
  }
  if (avoided.length === 0) io.stdout.write(`no pool avoided (none interrupted in the last ${Math.round(s.avoidPoolMs / 60_000)} min)\n`);
  else {
    io.stdout.write(`avoided by every launch (interrupted in the last ${Math.round(s.avoidPoolMs / 60_000)} min):\n`);
    for (const p of avoided) io.stdout.write(`  ${p.instanceType} in ${p.az} until ${p.until}\n`);
  }
  if (onDemand.length > 0) {
    io.stdout.write(`on-demand (interrupted ${s.onDemandAfter}+ times within an hour):\n`);
    for (const r of onDemand) io.stdout.write(`  role ${r.role}: ${r.interruptions} interruptions; calm again at ${r.until}\n`);
  }
  return 0;
}
