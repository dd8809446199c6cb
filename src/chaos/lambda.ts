/**
 * The nightly chaos job as a scheduled Lambda (EventBridge Scheduler, the schedule made by
 * toEventBridgeCron): wiring only, the same night as `fleet chaos --nightly`
 * (src/ops/chaos.ts). It reads the validated fleet spec from env FLEET_SPEC_JSON (the stack
 * sets it), is unleashed only when the policy says `leashed: false`, stops starting kills
 * before the invocation's time runs out, and writes JSON log lines; a failed night is one
 * line with "level":"error" and "event":"chaos-report".
 *
 * It never throws for a failed night: an asynchronous invocation that fails is retried, and a
 * retry would be a second night.
 */
import { randomInt } from 'node:crypto';
import type { FleetSpec } from '../model.js';
import type { LogEvent } from '../ports.js';
import { failureReport, runChaosNight, summaryLine, type NightReport } from '../ops/chaos.js';
import { realTerminator } from '../ops/kill.js';
import { MAX_SEED } from '../plan/chaos/pick.js';
import { specFromEnv } from '../lambda/env.js';
import { wireNight } from './wiring.js';

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
}

/** What the schedule may pass: a seed to replay a night. */
export interface ChaosEvent {
  seed?: number;
}

export interface ChaosResult {
  ok: boolean;
  seed: number;
  summary: string;
  kills: { name: string; timeToRebuiltMs?: number; withinBudget: boolean }[];
}

/** Time kept back from the invocation's end for the journal and the report. */
const RESERVE_MS = 30_000;

/** A handler over an environment (tests pass their own; `handler` below uses process.env). */
export function makeHandler(env: Record<string, string | undefined>, write: (line: string) => void = (l) => process.stdout.write(l + '\n')) {
  return async (event: ChaosEvent | undefined, context: LambdaContext): Promise<ChaosResult> => {
    const line = (e: LogEvent) => write(JSON.stringify({ time: new Date().toISOString(), ...e }));
    const seed = typeof event?.seed === 'number' && Number.isInteger(event.seed) && event.seed >= 0 && event.seed <= MAX_SEED ? event.seed : randomInt(0, MAX_SEED);
    let spec: FleetSpec;
    try {
      spec = specFromEnv(env);
    } catch (err) {
      line({ level: 'error', event: 'chaos-report', msg: `chaos night not run: ${err instanceof Error ? err.message : String(err)}`, seed });
      return { ok: false, seed, summary: `not run: ${err instanceof Error ? err.message : String(err)}`, kills: [] };
    }
    let close = async () => {};
    try {
      // AWS_ENDPOINT_URL (a local cloud) and AWS_REGION come from the environment, as for the CLI.
      const wired = await wireNight(env, spec, line, 5 * 60_000);
      close = wired.close;
      const ops = wired.ops;
      // No new kill once the invocation is close to its end; healing stops then too.
      const remaining = context.getRemainingTimeInMillis();
      const scale = wired.timeScale;
      const deadline = new Date(ops.clock.now().getTime() + Math.max(0, remaining - RESERVE_MS) * scale);
      const stop = new AbortController();
      const timer = setTimeout(() => stop.abort(new Error('the Lambda invocation is about to time out')), Math.max(0, remaining - RESERVE_MS / 2));
      ops.signal = stop.signal;
      let report: NightReport;
      try {
        report = await runChaosNight(ops, {
          seed,
          ...(spec.chaos.leashed ? {} : { terminators: { terminate: realTerminator } }),
          who: `chaos (lambda${context.awsRequestId ? ` ${context.awsRequestId}` : ''})`,
          heal: 'reconcile',
          deadline,
        });
      } finally {
        clearTimeout(timer);
      }
      const summary = summaryLine(report);
      if (report.ok) line({ level: 'info', event: 'chaos-night', msg: summary, seed, nightId: report.nightId });
      else line({ level: 'error', event: 'chaos-report', msg: failureReport(report, ops.clock.now()), seed, nightId: report.nightId, kills: report.kills, stopped: report.stopped });
      return { ok: report.ok, seed, summary, kills: report.kills.map((k) => ({ name: k.name, ...(k.timeToRebuiltMs !== undefined ? { timeToRebuiltMs: k.timeToRebuiltMs } : {}), withinBudget: k.withinBudget })) };
    } catch (err) {
      // Bad input or a cloud that cannot be read: reported, not retried (a retry would not do better).
      line({ level: 'error', event: 'chaos-report', msg: `chaos night not run: ${err instanceof Error ? err.message : String(err)}`, seed });
      return { ok: false, seed, summary: `not run: ${err instanceof Error ? err.message : String(err)}`, kills: [] };
    } finally {
      await close();
    }
  };
}

export const handler = makeHandler(process.env);
