/** PLACEHOLDER: the EC2 service of the local cloud; replaced by the full implementation. */
import { AwsError, type CloudEvent, type ServiceModule, type SimContext, type SnapshotStore } from '../types.js';
import { ec2ErrorBody } from './query.js';
import type { VolumeControl } from './volumes.js';

export interface Ec2Control extends VolumeControl {
  interruptSpot(instanceId: string): CloudEvent;
}

export interface Ec2Service extends ServiceModule, SnapshotStore {
  readonly control: Ec2Control;
}

export function createEc2(_ctx: SimContext): Ec2Service {
  const no = (): never => {
    throw new AwsError('InvalidAction', 'not implemented yet');
  };
  return {
    service: 'ec2',
    action: () => no(),
    handle: () => no(),
    renderError: (err, req) => ({ status: err.status, headers: { 'content-type': 'text/xml' }, body: ec2ErrorBody(err.code, err.message, req.requestId) }),
    throttleError: () => new AwsError('RequestLimitExceeded', 'Request limit exceeded.', 503),
    serverError: (s) => new AwsError('InternalError', 'An internal error has occurred', s),
    getSnapshot: () => undefined,
    control: { interruptSpot: no, writeVolumeBlocks: no, volume: () => undefined, volumes: () => [], snapshots: () => [] },
  };
}
