/**
 * A stand-in for the EC2 instance metadata service, IMDSv2 only (as fleet launches with
 * HttpTokens=required): a session token from `PUT /latest/api/token`, then metadata only with
 * that token, 401 otherwise. It answers what the bootstrap and the AWS CLI ask for: the
 * instance id, region, private IP, and instance-profile credentials. The credentials are
 * dummy values, not secrets: the local cloud does not check signatures.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ImdsInstance {
  instanceId: string;
  region: string;
  az: string;
  privateIp: string;
  /** The instance profile's role name. */
  role: string;
}

export interface ImdsRequest {
  method: string;
  path: string;
  /** The request carried a valid session token. */
  token: boolean;
  status: number;
}

export interface Imds {
  endpoint: string;
  requests: ImdsRequest[];
  close(): Promise<void>;
}

export async function startImds(instance: ImdsInstance): Promise<Imds> {
  const tokens = new Set<string>();
  const requests: ImdsRequest[] = [];
  const expiration = new Date(Date.now() + 6 * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const meta: Record<string, string> = {
    'instance-id': instance.instanceId,
    'placement/region': instance.region,
    'placement/availability-zone': instance.az,
    'local-ipv4': instance.privateIp,
    'iam/security-credentials/': instance.role,
    [`iam/security-credentials/${instance.role}`]: JSON.stringify({
      Code: 'Success',
      LastUpdated: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      Type: 'AWS-HMAC',
      AccessKeyId: 'FLEETSANDBOXDUMMYKEY',
      SecretAccessKey: 'dummy-not-a-secret-fleet-sandbox',
      Token: 'dummy-session-token-fleet-sandbox',
      Expiration: expiration,
    }),
  };
  const dynamic: Record<string, string> = {
    'instance-identity/document': JSON.stringify({ instanceId: instance.instanceId, region: instance.region, availabilityZone: instance.az, privateIp: instance.privateIp }),
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const given = req.headers['x-aws-ec2-metadata-token'];
    const token = typeof given === 'string' && tokens.has(given);
    const answer = (status: number, body: string, type = 'text/plain'): void => {
      requests.push({ method: req.method ?? '', path, token, status });
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    req.resume();
    req.on('end', () => {
      if (path === '/latest/api/token') {
        const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
        if (req.method !== 'PUT') return answer(405, '');
        if (!(ttl >= 1 && ttl <= 21600)) return answer(400, '');
        const t = randomBytes(24).toString('base64url');
        tokens.add(t);
        return answer(200, t);
      }
      // IMDSv2 only: no token, no metadata.
      if (!token) return answer(401, '');
      if (req.method !== 'GET') return answer(405, '');
      const m = /^\/latest\/(meta-data|dynamic)\/(.*)$/.exec(path);
      const table = m?.[1] === 'meta-data' ? meta : m?.[1] === 'dynamic' ? dynamic : undefined;
      const value = table?.[m![2]!];
      if (value === undefined) return answer(404, '');
      return answer(200, value, value.startsWith('{') ? 'application/json' : 'text/plain');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
