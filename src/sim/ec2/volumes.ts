/**
 * EBS volumes and snapshots as EC2 serves them (CreateVolume, AttachVolume, DetachVolume,
 * DeleteVolume, DescribeVolumes, CreateSnapshot, DescribeSnapshots). PLACEHOLDER: to be
 * replaced by the full implementation; the interface below is the contract with ec2/index.ts
 * and ebs/index.ts.
 */
import type { InstanceState } from '../../model.js';
import { AwsError, type SimContext, type SimRequest, type SnapshotRecord, type SnapshotStore } from '../types.js';
import type { Ec2Params } from './query.js';

export interface InstanceLookup {
  /** The instance's AZ and state, or undefined when it does not exist (or is not visible yet). */
  get(instanceId: string): { az: string; state: InstanceState } | undefined;
}

export interface VolumeAttachmentView {
  device: string;
  volumeId: string;
  status: 'attaching' | 'attached' | 'detaching' | 'detached';
  attachTime: string;
  deleteOnTermination: boolean;
}

export interface VolumeView {
  volumeId: string;
  az: string;
  sizeGiB: number;
  type: string;
  state: 'creating' | 'available' | 'in-use' | 'deleting' | 'deleted' | 'error';
  snapshotId?: string;
  tags: Record<string, string>;
  attachment?: { instanceId: string; device: string; status: string };
  /** Written 512 KiB blocks: index -> content token. */
  blocks: Map<number, string>;
}

export interface VolumeControl {
  /** Simulate the instance writing data: set block contents (index -> content token). */
  writeVolumeBlocks(volumeId: string, blocks: Record<number, string>): void;
  volume(volumeId: string): VolumeView | undefined;
  volumes(): VolumeView[];
  snapshots(): SnapshotRecord[];
}

export type Ec2ActionHandler = (params: Ec2Params, req: SimRequest) => string;

export interface VolumeStore extends SnapshotStore {
  /** EC2 actions served here, keyed by action name; each returns the XML response body. */
  readonly actions: Record<string, Ec2ActionHandler>;
  /** An instance terminated: its attached volumes detach (or are deleted when DeleteOnTermination). */
  onInstanceTerminated(instanceId: string): void;
  /** Block device mappings of an instance, for DescribeInstances. */
  attachmentsOf(instanceId: string): VolumeAttachmentView[];
  readonly control: VolumeControl;
}

export function createVolumeStore(_ctx: SimContext, _instances: InstanceLookup): VolumeStore {
  const notYet = (): string => {
    throw new AwsError('InvalidAction', 'volumes are not implemented yet');
  };
  return {
    actions: {},
    getSnapshot: () => undefined,
    onInstanceTerminated: () => {},
    attachmentsOf: () => [],
    control: { writeVolumeBlocks: notYet, volume: () => undefined, volumes: () => [], snapshots: () => [] },
  };
}
