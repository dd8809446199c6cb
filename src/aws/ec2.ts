/** EC2 adapter: the fleet's instances, read with filtered, paginated DescribeInstances. */
import { DescribeImagesCommand, DescribeInstancesCommand, type EC2Client, type Instance as SdkInstance } from '@aws-sdk/client-ec2';
import type { ImageRef, Instance, InstanceState } from '../model.js';
import type { Compute, PageProgress } from '../ports.js';
import { CONVERGED_TAG } from '../bootstrap/marker.js';
import { cloudError } from './errors.js';
import { FleetError } from '../errors.js';

export const TAG = {
  fleet: 'fleet:fleet',
  name: 'fleet:name',
  role: 'fleet:role',
  generation: 'fleet:generation',
  converged: CONVERGED_TAG,
} as const;

const STATES: readonly InstanceState[] = ['pending', 'running', 'shutting-down', 'terminated', 'stopping', 'stopped'];

export function fromSdkInstance(i: SdkInstance): Instance {
  const tags: Record<string, string> = {};
  for (const t of i.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  const stateName = i.State?.Name as InstanceState | undefined;
  const gen = tags[TAG.generation];
  const generation = gen !== undefined && /^\d+$/.test(gen) ? Number(gen) : undefined;
  const out: Instance = {
    id: i.InstanceId ?? '',
    state: stateName && STATES.includes(stateName) ? stateName : 'pending',
    type: i.InstanceType ?? '',
    market: i.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand',
    az: i.Placement?.AvailabilityZone ?? '',
    launchTime: i.LaunchTime ? new Date(i.LaunchTime).toISOString() : '',
    tags,
  };
  if (i.SubnetId) out.subnetId = i.SubnetId;
  if (i.PrivateIpAddress) out.privateIp = i.PrivateIpAddress;
  if (i.ImageId) out.imageId = i.ImageId;
  if (tags[TAG.fleet] !== undefined) out.fleet = tags[TAG.fleet];
  if (tags[TAG.name] !== undefined) out.name = tags[TAG.name];
  if (tags[TAG.role] !== undefined) out.role = tags[TAG.role];
  if (generation !== undefined) out.generation = generation;
  if (tags[TAG.converged]) out.converged = tags[TAG.converged];
  return out;
}

export function createEc2Compute(client: EC2Client): Compute {
  return {
    async listFleetInstances(fleet: string, onPage?: PageProgress): Promise<Instance[]> {
      const out: Instance[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        let res;
        try {
          res = await client.send(
            new DescribeInstancesCommand({
              Filters: [{ Name: `tag:${TAG.fleet}`, Values: [fleet] }],
              MaxResults: 1000,
              ...(token ? { NextToken: token } : {}),
            }),
          );
        } catch (err) {
          throw cloudError(`listing instances of fleet ${fleet}`, err);
        }
        pages++;
        for (const r of res.Reservations ?? []) for (const i of r.Instances ?? []) out.push(fromSdkInstance(i));
        onPage?.({ pages, items: out.length });
        token = res.NextToken || undefined;
      } while (token);
      return out;
    },

    async resolveImage(ref: ImageRef): Promise<string> {
      if ('id' in ref) return ref.id;
      let res;
      try {
        res = await client.send(
          new DescribeImagesCommand({
            Owners: [ref.owner],
            Filters: [
              { Name: 'name', Values: [ref.namePattern] },
              { Name: 'state', Values: ['available'] },
            ],
          }),
        );
      } catch (err) {
        throw cloudError(`resolving image ${ref.owner}/${ref.namePattern}`, err);
      }
      const images = (res.Images ?? []).filter((i) => i.ImageId).sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''));
      const newest = images[0];
      if (!newest?.ImageId) throw new FleetError(`no available image of owner ${ref.owner} matches ${JSON.stringify(ref.namePattern)}`, { exitCode: 1 });
      return newest.ImageId;
    },
  };
}
