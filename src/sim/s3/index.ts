/** PLACEHOLDER: the S3 service of the local cloud; replaced by the full implementation. */
import { AwsError, type ServiceModule, type SimContext } from '../types.js';

export interface S3Control {
  /** Bucket names. */
  buckets(): string[];
}

export interface S3Service extends ServiceModule {
  readonly control: S3Control;
}

export function createS3(_ctx: SimContext): S3Service {
  const no = (): never => {
    throw new AwsError('NotImplemented', 'not implemented yet', 501);
  };
  return {
    service: 's3',
    action: () => no(),
    handle: () => no(),
    renderError: (err) => ({ status: err.status, headers: { 'content-type': 'application/xml' }, body: `<Error><Code>${err.code}</Code></Error>` }),
    throttleError: () => new AwsError('SlowDown', 'Please reduce your request rate.', 503),
    serverError: (s) => new AwsError('InternalError', 'We encountered an internal error. Please try again.', s),
    control: { buckets: () => [] },
  };
}
