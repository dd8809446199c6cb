/** Map SDK errors to ours: keep AWS's error code, lead with what we were doing. */
import { CloudError, FleetError, InputError } from '../errors.js';
import { AwsTimeoutError } from './clients.js';

/** The AWS error code of an SDK error (`name` in SDK v3), or undefined for non-AWS errors. */
export function awsCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  // Service exceptions carry $fault ('client' | 'server'); network failures also get $metadata but no $fault.
  const e = err as { name?: unknown; Code?: unknown; $fault?: unknown };
  if (typeof e.Code === 'string') return e.Code;
  if (e.$fault !== undefined && typeof e.name === 'string' && e.name !== 'Error') return e.name;
  return undefined;
}

export function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/** Rethrow an SDK failure as a FleetError with context; configuration problems become InputError (exit 2). */
export function cloudError(context: string, err: unknown): Error {
  // No answer in time (src/aws/clients.ts bounds every call): a failure, naming the endpoint.
  if (err instanceof AwsTimeoutError) return new FleetError(`${context}: ${err.message}`, { exitCode: 1, cause: err, data: { code: 'Timeout', endpoint: err.endpoint, operation: err.operation } });
  const code = awsCode(err);
  if (code) return new CloudError(context, code, err);
  const name = (err as { name?: string } | undefined)?.name;
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'CredentialsProviderError') {
    return new InputError(`${context}: no AWS credentials found (${message}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or point AWS_ENDPOINT_URL at a local cloud`, { cause: err });
  }
  if (/Region is missing/i.test(message)) {
    return new InputError(`${context}: no AWS region: set region in fleet.yaml, or AWS_REGION, or a profile's region`, { cause: err });
  }
  const sys = (err as { code?: string } | undefined)?.code ?? /\b(E[A-Z]{4,})\b/.exec(message)?.[1];
  if (sys && /^E(CONNREFUSED|NOTFOUND|CONNRESET|TIMEDOUT|HOSTUNREACH|NETUNREACH|AI_AGAIN|PIPE)$/.test(sys)) {
    return new FleetError(`${context}: cannot reach the AWS endpoint (${message})`, { exitCode: 1, cause: err, data: { code: sys } });
  }
  return new CloudError(context, name && name !== 'Error' ? name : 'UnknownError', err);
}
