/**
 * The OpsDeps every edge builds (the CLI, the spot handler's Lambda, the nightly chaos Lambda),
 * assembled once: given the ports, the clock and the log, the run's own rate limiter, the
 * batched instance watcher and DNS writer over it, and a fresh operation id. The edges only
 * choose the parts (which adapters, which clock, which coordinator); how a run's pieces fit
 * together is written here.
 */
import { randomUUID } from 'node:crypto';
import type { OpsDeps } from './context.js';
import { DnsWriter } from './dns.js';
import { RateLimiter, type ThrottleFeed } from './limiter.js';
import { InstanceWatcher } from './watcher.js';

/** What an edge supplies; the rest of OpsDeps is built from it. */
export type OpsParts = Omit<OpsDeps, 'limiter' | 'watcher' | 'dnsWriter' | 'operationId' | 'images' | 'pollMs'> & {
  pollMs: number;
  operationId?: string;
  /** The throttles the edge's AWS clients report: the run's limiter re-syncs on each. */
  throttles?: ThrottleFeed;
};

export function assembleOpsDeps(parts: OpsParts): OpsDeps {
  const { pollMs, operationId, throttles, ...rest } = parts;
  const limiter = new RateLimiter(parts.clock);
  throttles?.add(limiter);
  return {
    ...rest,
    limiter,
    // A launch is visible to DescribeInstances within minutes (eventual consistency); 200 ids per call.
    watcher: new InstanceWatcher(parts.instances, parts.clock, limiter, parts.log, { pollMs, visibilityGraceMs: 5 * 60_000 }),
    // Record changes arriving within a second share a batch.
    dnsWriter: new DnsWriter(parts.dns, parts.zoneId, parts.clock, limiter, parts.log, { batchWindowMs: Math.min(1000, pollMs), pollMs }),
    operationId: operationId || randomUUID().slice(0, 8),
    images: new Map(),
    pollMs,
  };
}
