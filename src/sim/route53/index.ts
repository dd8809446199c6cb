/** PLACEHOLDER: the Route 53 service of the local cloud; replaced by the full implementation. */
import { AwsError, type ServiceModule, type SimContext } from '../types.js';

export interface Route53Control {
  /** Zone names (no trailing dot). */
  zones(): string[];
}

export interface Route53Service extends ServiceModule {
  readonly control: Route53Control;
}

export function createRoute53(_ctx: SimContext): Route53Service {
  const no = (): never => {
    throw new AwsError('InvalidAction', 'not implemented yet');
  };
  return {
    service: 'route53',
    action: () => no(),
    handle: () => no(),
    renderError: (err) => ({ status: err.status, headers: { 'content-type': 'text/xml' }, body: `<ErrorResponse><Error><Code>${err.code}</Code></Error></ErrorResponse>` }),
    throttleError: () => new AwsError('Throttling', 'Rate exceeded', 400),
    serverError: (s) => new AwsError('InternalFailure', 'internal failure', s),
    control: { zones: () => [] },
  };
}
