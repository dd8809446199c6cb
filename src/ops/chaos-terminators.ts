/**
 * The chaos monkey's terminators beyond `fleet kill`'s (src/ops/kill.ts): a spot interruption,
 * through a small port that a cloud able to interrupt implements (the local cloud does; on
 * AWS, FIS's aws:ec2:send-spot-instance-interruptions would be the adapter).
 */
import type { Instance } from '../model.js';
import type { OpsDeps } from './context.js';
import type { Terminator } from './kill.js';

/** Interrupts a running spot instance as the spot service does: the warning now, the termination two minutes later. */
export interface SpotInterrupter {
  interrupt(instanceId: string): Promise<void>;
}

export function spotInterruptionTerminator(port: SpotInterrupter): Terminator {
  return {
    kind: 'spot-interruption',
    acts: true,
    async terminate(deps: OpsDeps, victim: Instance, reason: string): Promise<void> {
      await port.interrupt(victim.id);
      deps.log({ level: 'info', event: 'spot-interrupted', msg: `spot interruption of ${victim.id} (${reason}): warned now, terminated in two minutes`, instanceIds: [victim.id] });
    },
  };
}
