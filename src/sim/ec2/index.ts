/**
 * The EC2 service of the local cloud, over the "ec2" query protocol (Version 2016-11-15; any
 * Version is accepted). Instances live in src/sim/ec2/instances.ts, volumes and snapshots in
 * the volume store (src/sim/ec2/volumes.ts), the fixed network and images in topology.ts.
 *
 * Throttling buckets (src/sim/faults.ts DEFAULT_BUCKETS, DESIGN.md section 7):
 *   Describe*, Get*, List*                            ec2:describe
 *   DescribeInstances without filter, id, MaxResults  ec2:describe-unfiltered
 *   RunInstances                                      ec2:run-instances  (+ ec2:run-instances-resource per instance)
 *   TerminateInstances                                ec2:terminate-instances (+ ec2:terminate-instances-resource per instance)
 *   CreateTags, DeleteTags                            ec2:tags
 *   CreateVolume, CreateSnapshot, DeleteVolume        ec2:volumes
 *   any other mutating action                         ec2:mutating
 * Throttled calls answer `RequestLimitExceeded` with HTTP 503; injected 5xx answer
 * `InternalError` (500) or `Unavailable` (503).
 */
import { AwsError, type CloudEvent, type ServiceModule, type SimContext, type SimRequest, type SnapshotStore } from '../types.js';
import type { InstanceState } from '../../model.js';
import { TAG } from '../../tags.js';
import { ec2ErrorBody, Ec2Params } from './query.js';
import { createVolumeStore, type Ec2ActionHandler, type InstanceLookup, type VolumeControl } from './volumes.js';
import { InstanceStore, type ConvergenceRule, type InstanceView, type SeedInstance } from './instances.js';
import { instanceActions, type VolumeExtras } from './instance-api.js';
import { catalogActions } from './catalog-api.js';
import type { RenderCtx } from './render.js';
import { IMAGES, type ImageDef } from './topology.js';

export type { ConvergenceRule, InstanceView, SeedInstance } from './instances.js';

export interface SubnetView {
  subnetId: string;
  vpcId: string;
  az: string;
  azId: string;
  cidr: string;
  defaultForAz: boolean;
  availableIpAddressCount: number;
}

export interface Ec2Stats {
  /** Instances still known (terminated ones until they vanish). */
  total: number;
  byState: Record<InstanceState, number>;
  spot: number;
  onDemand: number;
  /** Carrying the fleet:converged tag. */
  converged: number;
  /** Inside the eventual-consistency window. */
  invisible: number;
}

export interface Ec2Control extends VolumeControl {
  /**
   * Spot interruption of a running spot instance: emits "EC2 Spot Instance Interruption
   * Warning" now and interrupts (terminates) the instance two simulated minutes later, with
   * state-change notifications. Throws AwsError for anything but a running spot instance.
   */
  interruptSpot(instanceId: string): CloudEvent;
  /** Emits "EC2 Instance Rebalance Recommendation" for a running spot instance. */
  rebalanceRecommendation(instanceId: string): CloudEvent;
  /** Bulk-load instances bypassing the API (no events, no throttling, no consistency window). */
  seedInstances(specs: SeedInstance[]): string[];
  /** Terminate as the service would (hardware failure, chaos from outside): state-change events follow. */
  terminate(instanceId: string): void;
  instance(instanceId: string): InstanceView | undefined;
  instances(): InstanceView[];
  /** Convergence rules (see ConvergenceRule); undefined or [] restores the default. */
  setConvergence(rules: ConvergenceRule | ConvergenceRule[] | undefined): void;
  stats(): Ec2Stats;
  subnets(): SubnetView[];
  images(): ImageDef[];
}

export interface Ec2Service extends ServiceModule, SnapshotStore {
  readonly control: Ec2Control;
  /** State simulation: how instances read the S3 prefix their bootstrap restores (keys under a prefix; undefined: no such bucket). */
  setStateLister(list: (bucket: string, prefix: string) => string[] | undefined): void;
}

const MEMO_KEY = 'ec2:params';

function params(req: SimRequest): Ec2Params {
  let p = req.memo.get(MEMO_KEY) as Ec2Params | undefined;
  if (!p) {
    p = Ec2Params.parse(req.body, req.query);
    req.memo.set(MEMO_KEY, p);
  }
  return p;
}

/** The throttling bucket of an action (see the table above). */
export function bucketOf(action: string, p: Ec2Params): string {
  if (action === 'DescribeInstances') {
    return p.has('Filter') || p.has('InstanceId') || p.has('MaxResults') ? 'ec2:describe' : 'ec2:describe-unfiltered';
  }
  if (/^(Describe|Get|List)/.test(action)) return 'ec2:describe';
  switch (action) {
    case 'RunInstances':
      return 'ec2:run-instances';
    case 'TerminateInstances':
      return 'ec2:terminate-instances';
    case 'CreateTags':
    case 'DeleteTags':
      return 'ec2:tags';
    case 'CreateVolume':
    case 'CreateSnapshot':
    case 'DeleteVolume':
      return 'ec2:volumes';
    default:
      return 'ec2:mutating';
  }
}

export function createEc2(ctx: SimContext): Ec2Service {
  const store = new InstanceStore(ctx);
  const lookup: InstanceLookup = {
    get(instanceId) {
      const now = store.now();
      const r = store.find(instanceId, now);
      return r ? { az: r.subnet.az, state: store.stateOf(r, now) } : undefined;
    },
  };
  const volumes = createVolumeStore(ctx, lookup);
  store.hooks = { onTerminated: (id) => volumes.onInstanceTerminated(id), mountable: (id) => volumes.mountableOf(id) };

  const renderCtx = (): RenderCtx => ({
    store,
    account: ctx.account,
    region: ctx.region,
    now: store.now(),
    attachmentsOf: (id) => volumes.attachmentsOf(id),
  });
  const extras = volumes as unknown as Partial<VolumeExtras>;
  const volumeExtras: Partial<VolumeExtras> = {
    ...(extras.createAttachedVolume ? { createAttachedVolume: (s) => extras.createAttachedVolume!(s) } : {}),
    ...(extras.hasResource ? { hasResource: (id) => extras.hasResource!(id) } : {}),
    ...(extras.createTags ? { createTags: (id, t) => extras.createTags!(id, t) } : {}),
    ...(extras.deleteTags ? { deleteTags: (id, t) => extras.deleteTags!(id, t) } : {}),
    ...(extras.tagsOf ? { tagsOf: (id) => extras.tagsOf!(id) } : {}),
  };

  const handlers: Record<string, Ec2ActionHandler> = {
    ...volumes.actions,
    ...catalogActions(store.topology, ctx.account),
    ...instanceActions({ ctx, store, renderCtx, volumes: volumeExtras }),
  };

  const runningSpot = (instanceId: string, what: string) => {
    const r = store.byId.get(instanceId);
    const now = store.now();
    if (!r || !store.refresh(r, now)) throw new AwsError('InvalidInstanceID.NotFound', `${what}: the instance ID '${instanceId}' does not exist`);
    if (r.market !== 'spot') throw new AwsError('UnsupportedOperation', `${what}: ${instanceId} is an on-demand instance; only spot instances get this event`);
    const state = store.stateOf(r, now);
    if (state !== 'running') throw new AwsError('IncorrectInstanceState', `${what}: ${instanceId} is ${state}; only a running spot instance can get this event`);
    return r;
  };

  const control: Ec2Control = {
    interruptSpot(instanceId) {
      const r = runningSpot(instanceId, 'interruptSpot');
      const action = r.spot?.behavior ?? 'terminate';
      const event = store.event('EC2 Spot Instance Interruption Warning', [`arn:aws:ec2:${r.subnet.az}:instance/${r.id}`], {
        'instance-id': r.id,
        'instance-action': action,
      });
      ctx.emit(event);
      store.scheduleInterruption(r);
      return event;
    },
    rebalanceRecommendation(instanceId) {
      const r = runningSpot(instanceId, 'rebalanceRecommendation');
      const event = store.event('EC2 Instance Rebalance Recommendation', [`arn:aws:ec2:${r.subnet.az}:instance/${r.id}`], { 'instance-id': r.id });
      ctx.emit(event);
      return event;
    },
    seedInstances: (specs) => store.seed(specs),
    terminate(instanceId) {
      const r = store.byId.get(instanceId);
      if (!r || !store.refresh(r, store.now())) throw new AwsError('InvalidInstanceID.NotFound', `terminate: the instance ID '${instanceId}' does not exist`);
      store.terminate(r, 'service');
    },
    instance(instanceId) {
      const r = store.byId.get(instanceId);
      const now = store.now();
      return r && store.refresh(r, now) ? store.view(r, now) : undefined;
    },
    instances() {
      const now = store.now();
      return store.all().map((r) => store.view(r, now));
    },
    setConvergence: (rules) => store.setConvergence(rules),
    stats() {
      const now = store.now();
      const byState: Record<InstanceState, number> = { pending: 0, running: 0, 'shutting-down': 0, terminated: 0, stopping: 0, stopped: 0 };
      const s: Ec2Stats = { total: 0, byState, spot: 0, onDemand: 0, converged: 0, invisible: 0 };
      for (const r of store.all()) {
        s.total++;
        byState[store.stateOf(r, now)]++;
        if (r.market === 'spot') s.spot++;
        else s.onDemand++;
        if (r.tags.has(TAG.converged)) s.converged++;
        if (now < r.visibleAt) s.invisible++;
      }
      return s;
    },
    subnets: () =>
      [...store.topology.subnets.values()].map((s) => ({
        subnetId: s.id,
        vpcId: s.vpcId,
        az: s.az,
        azId: s.azId,
        cidr: s.cidr,
        defaultForAz: s.defaultForAz,
        availableIpAddressCount: s.free,
      })),
    images: () => IMAGES.map((i) => ({ ...i })),
    writeVolumeBlocks: (volumeId, blocks) => volumes.control.writeVolumeBlocks(volumeId, blocks),
    volume: (volumeId) => volumes.control.volume(volumeId),
    volumes: () => volumes.control.volumes(),
    snapshots: () => volumes.control.snapshots(),
  };

  return {
    service: 'ec2',
    action(req) {
      const p = params(req);
      const action = p.action;
      if (action === undefined || action === '') {
        throw new AwsError('MissingAction', 'The request must contain the parameter Action.');
      }
      if (!Object.prototype.hasOwnProperty.call(handlers, action)) {
        throw new AwsError('InvalidAction', `The action ${action} is not valid for this web service.`);
      }
      return { action, bucket: bucketOf(action, p) };
    },
    handle(req, info) {
      const body = handlers[info.action]!(params(req), req);
      return { status: 200, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body };
    },
    renderError: (err, req) => ({ status: err.status, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body: ec2ErrorBody(err.code, err.message, req.requestId) }),
    throttleError: () => new AwsError('RequestLimitExceeded', 'Request limit exceeded.', 503),
    serverError: (status) =>
      status === 503
        ? new AwsError('Unavailable', "The server is overloaded and can't handle the request.", 503)
        : new AwsError('InternalError', 'An internal error has occurred', status),
    getSnapshot: (snapshotId) => volumes.getSnapshot(snapshotId),
    control,
    setStateLister(list) {
      store.hooks.stateKeys = list;
    },
  };
}
