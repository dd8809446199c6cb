/**
 * XML of instances and reservations, element names as the SDK's EC2 deserializer reads them
 * (`instanceState`, `tagSet`, `groupSet`, `blockDeviceMapping`, `networkInterfaceSet`, ...).
 * Built by string concatenation: a page of 1,000 instances is rendered per DescribeInstances.
 * The instance carries what fleet and common tools read (identity, state, placement, network,
 * tags, lifecycle, metadata options, profile, block devices, one network interface); the
 * rarely read option blocks real EC2 also returns (capacityReservationSpecification,
 * hibernationOptions, enclaveOptions, maintenanceOptions, privateDnsNameOptions, ...) are left
 * out, and the network interface carries its identity, address and attachment only (its
 * groups and address list repeat the instance's): the SDK's XML parser costs time per byte,
 * and a 100,000-instance listing is 100 pages of 1,000.
 */
import { escapeXml } from '../server.js';
import { EC2_XMLNS } from './query.js';
import type { VolumeAttachmentView } from './volumes.js';
import { privateDnsName, STATE_CODES, type InstanceRecord, type InstanceStore, type ReservationGroup, type StateChange } from './instances.js';
import { intToIp } from './topology.js';
import type { InstanceState } from '../../model.js';

/** `<name>value</name>`, or nothing for undefined. */
export function el(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  return `<${name}>${typeof value === 'string' ? escapeXml(value) : String(value)}</${name}>`;
}

/** A successful response whose fields are already XML. */
export function rawResponse(action: string, requestId: string, innerXml: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_XMLNS}"><requestId>${requestId}</requestId>${innerXml}</${action}Response>`;
}

export function stateXml(name: string, s: InstanceState): string {
  return `<${name}><code>${STATE_CODES[s]}</code><name>${s}</name></${name}>`;
}

export function tagSetXml(tags: Map<string, string> | Record<string, string>): string {
  const entries = tags instanceof Map ? [...tags] : Object.entries(tags);
  if (entries.length === 0) return '';
  let out = '<tagSet>';
  for (const [k, v] of entries) out += `<item><key>${escapeXml(k)}</key><value>${escapeXml(v)}</value></item>`;
  return `${out}</tagSet>`;
}

function macOf(r: InstanceRecord): string {
  const n = (r.ip ?? 0) >>> 0;
  const b = [0x0e, (r.seq >> 8) & 0xff, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export interface RenderCtx {
  store: InstanceStore;
  account: string;
  region: string;
  now: number;
  attachmentsOf(id: string): VolumeAttachmentView[];
}

export function instanceXml(r: InstanceRecord, c: RenderCtx): string {
  const state = c.store.stateOf(r, c.now);
  const live = state !== 'terminated';
  const ip = live && r.ip !== undefined ? intToIp(r.ip) : undefined;
  const dns = ip === undefined ? '' : privateDnsName(ip, c.region);
  const launch = new Date(r.launchTime).toISOString();
  const groups = live ? r.groups.map((g) => `<item><groupId>${g.id}</groupId><groupName>${escapeXml(g.name)}</groupName></item>`).join('') : '';
  const eniId = `eni-${r.id.slice(2)}`;
  let x = '<item>';
  x += el('instanceId', r.id);
  x += el('imageId', r.image.imageId);
  x += stateXml('instanceState', state);
  x += `<privateDnsName>${dns}</privateDnsName><dnsName></dnsName>`;
  x += el('reason', r.reason);
  x += el('keyName', r.keyName);
  x += el('amiLaunchIndex', r.launchIndex);
  x += el('instanceType', r.type.name);
  x += el('launchTime', launch);
  x += `<placement><availabilityZoneId>${r.subnet.azId}</availabilityZoneId><availabilityZone>${r.subnet.az}</availabilityZone><groupName></groupName><tenancy>default</tenancy></placement>`;
  x += '<monitoring><state>disabled</state></monitoring>';
  if (live) {
    x += el('subnetId', r.subnet.id);
    x += el('vpcId', r.subnet.vpcId);
    x += el('privateIpAddress', ip);
  }
  x += '<sourceDestCheck>true</sourceDestCheck>';
  x += `<groupSet>${groups}</groupSet>`;
  if (r.stateReason) x += `<stateReason>${el('code', r.stateReason.code)}${el('message', r.stateReason.message)}</stateReason>`;
  x += el('architecture', r.image.architecture);
  x += '<rootDeviceType>ebs</rootDeviceType>';
  x += el('rootDeviceName', r.image.rootDeviceName);
  const attachments = c.attachmentsOf(r.id);
  if (attachments.length > 0) {
    x += '<blockDeviceMapping>';
    for (const a of attachments) {
      x += `<item>${el('deviceName', a.device)}<ebs>${el('volumeId', a.volumeId)}${el('status', a.status)}${el('attachTime', a.attachTime)}${el('deleteOnTermination', a.deleteOnTermination)}</ebs></item>`;
    }
    x += '</blockDeviceMapping>';
  } else {
    x += '<blockDeviceMapping/>';
  }
  x += '<virtualizationType>hvm</virtualizationType>';
  x += el('clientToken', r.clientToken ?? '');
  x += tagSetXml(r.tags);
  x += '<hypervisor>xen</hypervisor>';
  if (live && ip !== undefined) {
    x += '<networkInterfaceSet><item>';
    x += el('networkInterfaceId', eniId);
    x += el('subnetId', r.subnet.id);
    x += el('vpcId', r.subnet.vpcId);
    x += el('ownerId', c.account);
    x += '<status>in-use</status>';
    x += el('macAddress', macOf(r));
    x += el('privateIpAddress', ip);
    x += el('privateDnsName', dns);
    x += `<attachment><attachmentId>eni-attach-${r.id.slice(2)}</attachmentId><deviceIndex>0</deviceIndex><status>attached</status><deleteOnTermination>true</deleteOnTermination></attachment>`;
    x += '<interfaceType>interface</interfaceType></item></networkInterfaceSet>';
  } else {
    x += '<networkInterfaceSet/>';
  }
  if (r.profile) x += `<iamInstanceProfile>${el('arn', r.profile.arn)}${el('id', r.profile.id)}</iamInstanceProfile>`;
  x += '<ebsOptimized>false</ebsOptimized><enaSupport>true</enaSupport>';
  x += `<cpuOptions><coreCount>${Math.max(1, r.type.vcpus / 2)}</coreCount><threadsPerCore>${r.type.vcpus >= 2 ? 2 : 1}</threadsPerCore></cpuOptions>`;
  x += `<metadataOptions><state>${state === 'pending' ? 'pending' : 'applied'}</state>${el('httpTokens', r.metadata.httpTokens)}${el('httpPutResponseHopLimit', r.metadata.hopLimit)}${el('httpEndpoint', r.metadata.httpEndpoint)}<httpProtocolIpv6>disabled</httpProtocolIpv6></metadataOptions>`;
  x += el('bootMode', r.image.bootMode);
  x += '<platformDetails>Linux/UNIX</platformDetails><usageOperation>RunInstances</usageOperation>';
  if (r.market === 'spot') {
    x += '<instanceLifecycle>spot</instanceLifecycle>';
    x += el('spotInstanceRequestId', r.spot?.requestId);
  }
  x += '</item>';
  return x;
}

export function reservationXml(group: ReservationGroup, c: RenderCtx): string {
  let x = `<item><reservationId>${group.reservationId}</reservationId><ownerId>${c.account}</ownerId><groupSet/><instancesSet>`;
  for (const r of group.instances) x += instanceXml(r, c);
  return `${x}</instancesSet></item>`;
}

/** The body of RunInstances' response (a Reservation). */
export function runInstancesXml(reservationId: string, records: InstanceRecord[], c: RenderCtx): string {
  let x = `<reservationId>${reservationId}</reservationId><ownerId>${c.account}</ownerId><groupSet/><instancesSet>`;
  for (const r of records) x += instanceXml(r, c);
  return `${x}</instancesSet>`;
}

export function stateChangesXml(changes: StateChange[]): string {
  let x = '<instancesSet>';
  for (const ch of changes) x += `<item><instanceId>${ch.id}</instanceId>${stateXml('currentState', ch.current)}${stateXml('previousState', ch.previous)}</item>`;
  return `${x}</instancesSet>`;
}

