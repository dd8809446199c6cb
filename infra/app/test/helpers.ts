/** Shared by the CDK app's tests: fleet.yaml fixtures and a synthesized stack per fixture. */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { parseConfig } from '../../../src/config/index.js';
import type { FleetSpec } from '../../../src/model.js';
import { buildFleetApp, bundleDirs, repoRoot, type AppOptions } from '../lib/app.js';
import type { FleetStack } from '../lib/stack.js';

export const ROOT = repoRoot();

/** A fleet with every option the stack reads: volumes, state, per-role profiles, policy, ZooKeeper, alerts. */
export const FULL = `fleet: demo
region: us-east-1
dns:
  zone: prod.example.com
hub: hub-01
policy: s3://demo-fleet-policy/masterfiles
journal:
  bucket: demo-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001, subnet-0bb00000000000002]
  security-groups: [sg-0123456789abcdef0]
  instance-profile: fleet-node
roles:
  hub:
    count: 1
    type: t3.small
    instance-profile: fleet-node-hub
  web:
    count: 4
    type: t3.medium
    market: spot
    subnets: [subnet-0cc00000000000003]
  queue:
    count: 2
    type: m5.large
    volume: {size: 100, type: gp3, device: /dev/sdf, mount: /var/lib/queue}
  ci:
    count: 1
    type: c5.xlarge
    instance-profile: fleet-node-ci
    state:
      s3: s3://demo-fleet-state/ci
coordination:
  zookeeper:
    connect: 10.0.0.10:2181
chaos:
  schedule: "30 2 * * mon-fri"
alerts:
  email: ops@example.com
`;

/** The least a fleet says: no volumes, no state, one profile, no ZooKeeper, no alerts. */
export const MINIMAL = `fleet: tiny
dns:
  zone: tiny.example.com
hub: hub-01
journal:
  bucket: tiny-fleet-journal
  prefix: history
defaults:
  image: ami-12345678
  subnets: [subnet-12345678]
  security-groups: [sg-12345678]
  instance-profile: tiny-node
roles:
  hub:
    count: 1
    type: t3.small
`;

export const ZONE_ID = 'Z0123456789ABCDEFGHIJ';

export function spec(text: string): FleetSpec {
  return parseConfig(text, 'fleet.yaml');
}

export function bundles(): { interruption: string; chaos: string } {
  const b = bundleDirs(ROOT);
  for (const dir of Object.values(b)) {
    if (!existsSync(join(dir, 'index.mjs'))) throw new Error(`${dir}/index.mjs is missing: npm test runs \`npm run bundle\` before the tests`);
  }
  return b;
}

export function synth(text: string, opts: AppOptions = { hostedZoneId: ZONE_ID }): { stack: FleetStack; template: Template; json: Record<string, any>; spec: FleetSpec } {
  const s = spec(text);
  const app = new App();
  const stack = buildFleetApp(app, s, opts, bundles());
  const template = Template.fromStack(stack);
  return { stack, template, json: template.toJSON(), spec: s };
}

/** The resources of one type, by logical id. */
export function resources(json: Record<string, any>, type: string): Record<string, any> {
  return Object.fromEntries(Object.entries(json['Resources'] as Record<string, any>).filter(([, r]) => r.Type === type));
}
