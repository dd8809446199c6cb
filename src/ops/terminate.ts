/** Terminate instances and confirm it by describing them (TerminateInstances' answer proves nothing). */
import type { OpsDeps } from './context.js';

export async function terminateConfirmed(deps: OpsDeps, ids: string[], why: string): Promise<void> {
  if (ids.length === 0) return;
  // NotFound right after a launch is eventual consistency: retry for a while before giving up.
  const deadline = deps.clock.now().getTime() + 120_000;
  for (;;) {
    await deps.limiter.take('ec2:terminate-instances');
    try {
      await deps.instances.terminate(ids);
      break;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'InvalidInstanceID.NotFound' && deps.clock.now().getTime() < deadline) {
        await deps.clock.sleep(2_000);
        continue;
      }
      throw err;
    }
  }
  deps.log({ level: 'info', event: 'terminating', msg: `terminating ${ids.join(', ')} (${why})`, instanceIds: ids });
  await Promise.all(ids.map((id) => deps.watcher.terminated(id, 10 * 60_000)));
}
