/** PLACEHOLDER: the EBS direct API of the local cloud; replaced by the full implementation. */
import { AwsError, type ServiceModule, type SimContext, type SnapshotStore } from '../types.js';

export function createEbs(_ctx: SimContext, _snapshots: SnapshotStore): ServiceModule {
  const no = (): never => {
    throw new AwsError('ValidationException', 'not implemented yet');
  };
  return {
    service: 'ebs',
    action: () => no(),
    handle: () => no(),
    renderError: (err) => ({ status: err.status, headers: { 'content-type': 'application/json', 'x-amzn-errortype': err.code }, body: JSON.stringify({ Message: err.message }) }),
    throttleError: () => new AwsError('RequestThrottledException', 'Rate exceeded', 400),
    serverError: (s) => new AwsError('InternalServerException', 'internal error', s),
  };
}
