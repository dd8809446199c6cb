/**
 * The spot-interruption handler as a Lambda (EventBridge rules -> this function): wiring only.
 * The flow is src/ops/interruption.ts, the same one `fleet handle-event` runs.
 *
 * - JSON log lines on stdout (one object a line: level, event, msg, requestId, time, ...).
 * - A deadline from `context.getRemainingTimeInMillis()`: a stop signal fires 15 s before it,
 *   so no new side effect starts that the invocation could not finish.
 * - A malformed or foreign event is logged and ignored: never thrown back at EventBridge.
 *   A failure to act (AWS unreachable, a rollback) is logged with "level":"error",
 *   "event":"interruption-failed" and thrown, so Lambda retries the event (twice, then the
 *   dead-letter destination); a retry is safe: the done-marker is written only on success.
 * - Configuration: see src/interruption/wiring.ts (FLEET_SPEC_JSON, set by the CDK stack).
 */
import type { LogEvent } from '../ports.js';
import { handleEvents, type EventOutcome } from '../ops/interruption.js';
import { wireContainer, type Container } from './wiring.js';

export interface LambdaContext {
  getRemainingTimeInMillis?(): number;
  awsRequestId?: string;
}

/** Stop this long before the invocation's deadline. */
const SAFETY_MS = 15_000;
const DEFAULT_LOCK_WAIT_MS = 10 * 60_000;

let container: Promise<Container> | undefined;

function jsonLog(requestId: string | undefined) {
  return (e: LogEvent): void => {
    process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...(requestId ? { requestId } : {}), ...e }) + '\n');
  };
}

export async function handler(event: unknown, context: LambdaContext = {}): Promise<{ outcomes: EventOutcome[] }> {
  const log = jsonLog(context.awsRequestId);
  const remaining = typeof context.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : 900_000;
  const stop = new AbortController();
  const timer = setTimeout(() => {
    log({ level: 'warn', event: 'deadline', msg: `stopping: ${SAFETY_MS / 1000} s left in this invocation; nothing new starts` });
    stop.abort(new Error('the Lambda invocation is about to time out'));
  }, Math.max(0, remaining - SAFETY_MS));
  timer.unref?.();
  try {
    const c = await (container ??= wireContainer(process.env, log).catch((err: unknown) => {
      container = undefined;
      throw err;
    }));
    const lockCap = Number(process.env['FLEET_LOCK_WAIT_MS'] ?? DEFAULT_LOCK_WAIT_MS);
    const deps = await c.make(log, {
      operationId: (context.awsRequestId ?? '').slice(0, 8),
      signal: stop.signal,
      lockWaitMs: Math.max(0, Math.min(Number.isFinite(lockCap) ? lockCap : DEFAULT_LOCK_WAIT_MS, remaining - 2 * SAFETY_MS)),
    });
    const outcomes = await handleEvents(deps, event);
    for (const o of outcomes) log({ level: o.status === 'failed' ? 'error' : 'info', event: o.status === 'failed' ? 'interruption-failed' : 'interruption-handled', msg: `${o.status}: ${o.detail}`, outcome: o });
    const failed = outcomes.filter((o) => o.status === 'failed');
    if (failed.length > 0) throw new Error(`${failed.length} event${failed.length === 1 ? '' : 's'} not handled: ${failed.map((o) => o.detail).join('; ')}`);
    return { outcomes };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (!/not handled:/.test(msg)) log({ level: 'error', event: 'interruption-failed', msg });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
