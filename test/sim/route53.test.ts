/**
 * Conformance suite for the local cloud's Route 53 (REST-XML, 2013-04-01), driven with the
 * real @aws-sdk/client-route-53: hosted zones, atomic change batches with AWS's exact
 * InvalidChangeBatch messages, listing order and pagination, changes PENDING -> INSYNC,
 * per-request limits, and the fault knobs (throttling, injected 5xx, PriorRequestNotComplete).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  DeleteHostedZoneCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  GetHostedZoneCountCommand,
  ListHostedZonesByNameCommand,
  type ListHostedZonesByNameCommandOutput,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  type Change,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { cloudUnderTest, errorCode, errorStatus, simControl, type CloudUnderTest } from './harness.js';
import type { SimDelays } from '../../src/sim/types.js';
import type { Route53SeedRecord } from '../../src/sim/route53/index.js';
import { RecordStore, rrKey, type RRSet } from '../../src/sim/route53/store.js';
import { parseXml } from '../../src/sim/route53/xml.js';

let cloud: CloudUnderTest;
let r53: Route53Client;
let zoneSerial = 0;

/** A unique zone name for this run (tests share one cloud). */
function uniqueZone(label: string): string {
  return `${label}-${process.pid}-${zoneSerial++}.example`;
}

async function createZone(name: string, ref = `ref-${name}-${Date.now()}-${Math.random()}`): Promise<string> {
  const out = await r53.send(new CreateHostedZoneCommand({ Name: name, CallerReference: ref }));
  return out.HostedZone!.Id!.replace('/hostedzone/', '');
}

function rrset(name: string, type: string, ttl: number, values: string[], extra: Partial<ResourceRecordSet> = {}): ResourceRecordSet {
  return { Name: name, Type: type as ResourceRecordSet['Type'], TTL: ttl, ResourceRecords: values.map((Value) => ({ Value })), ...extra };
}

function change(action: 'CREATE' | 'DELETE' | 'UPSERT', rr: ResourceRecordSet): Change {
  return { Action: action, ResourceRecordSet: rr };
}

async function apply(zoneId: string, changes: Change[], client = r53) {
  return client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: changes } }));
}

async function failure(p: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail, but it succeeded');
}

async function listAll(zoneId: string, maxItems?: number, client = r53): Promise<{ sets: ResourceRecordSet[]; pages: number }> {
  const sets: ResourceRecordSet[] = [];
  let pages = 0;
  let start: { StartRecordName?: string; StartRecordType?: ResourceRecordSet['Type']; StartRecordIdentifier?: string } = {};
  for (;;) {
    const out = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, ...(maxItems ? { MaxItems: maxItems } : {}), ...start }));
    pages++;
    sets.push(...(out.ResourceRecordSets ?? []));
    if (!out.IsTruncated) break;
    start = { StartRecordName: out.NextRecordName!, StartRecordType: out.NextRecordType! };
    if (out.NextRecordIdentifier) start.StartRecordIdentifier = out.NextRecordIdentifier;
  }
  return { sets, pages };
}

function summary(sets: ResourceRecordSet[]): string[] {
  return sets.map((s) => `${s.Name} ${s.Type} ${s.TTL} ${(s.ResourceRecords ?? []).map((r) => r.Value).join(',')}`);
}

/** Route 53's listing key: labels reversed, raw characters, each followed by a dot, then the type. */
function awsOrderKey(s: ResourceRecordSet): string {
  const raw = s.Name!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  const labels = raw.replace(/\.$/, '').split('.');
  return labels.reverse().map((l) => `${l}.`).join('') + '\u0000' + s.Type + '\u0000' + (s.SetIdentifier ?? '');
}

/** Send a request whose HTTP body or path was rewritten after serialization (still SigV4-signed by the SDK). */
function tamperedClient(rewrite: (req: { body: unknown; path: string; method: string }) => void): Route53Client {
  const client = cloud.makeClients().route53;
  client.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { body: unknown; path: string; method: string; headers: Record<string, string> };
      rewrite(req);
      if (typeof req.body === 'string') {
        for (const h of Object.keys(req.headers)) if (h.toLowerCase() === 'content-length') delete req.headers[h];
        req.headers['content-length'] = String(Buffer.byteLength(req.body));
      }
      return next(args);
    },
    { step: 'build', name: 'tamperForTest' },
  );
  return client;
}

/** The fault and time knobs: in-process control, or the HTTP control endpoint of a local cloud elsewhere. */
interface Knobs {
  /** Set delays; returns the previous values of the keys set. */
  delays(d: Partial<SimDelays>): Promise<Partial<SimDelays>>;
  advance(ms: number): Promise<void>;
  speed(speed: number): Promise<void>;
  throttling(on: boolean): Promise<void>;
  failNext(service: string, action: string, n: number, status: number): Promise<void>;
  seedRecords(zone: string, records: Route53SeedRecord[]): Promise<void>;
}

function knobs(): Knobs | undefined {
  const control = cloud.control;
  if (control) {
    return {
      async delays(d) {
        const prev: Partial<SimDelays> = {};
        for (const k of Object.keys(d) as (keyof SimDelays)[]) prev[k] = control.delays[k];
        Object.assign(control.delays, d);
        return prev;
      },
      advance: async (ms) => control.clock.advance(ms),
      speed: async (x) => control.clock.setSpeed(x),
      throttling: async (on) => control.setThrottling(on),
      failNext: async (service, action, n, status) => control.failNext(service, action, n, status),
      // In slices that yield to the event loop: this process's SDK client is served from the
      // same loop, and seconds of synchronous seeding on a busy machine can outlast the
      // server's keep-alive timeout while a pooled socket is idle (then ECONNRESET).
      seedRecords: async (zone, records) => {
        for (let i = 0; i < records.length; i += 10_000) {
          control.route53.seedRecords(zone, records.slice(i, i + 10_000));
          await new Promise((r) => setImmediate(r));
        }
      },
    };
  }
  if (cloud.isLocalCloud) {
    const ep = cloud.endpoint;
    return {
      async delays(d) {
        const all = (await simControl(ep, '/delays', {})) as SimDelays;
        const prev: Partial<SimDelays> = {};
        for (const k of Object.keys(d) as (keyof SimDelays)[]) prev[k] = all[k];
        await simControl(ep, '/delays', d);
        return prev;
      },
      advance: async (ms) => void (await simControl(ep, '/clock', { advanceMs: ms })),
      speed: async (x) => void (await simControl(ep, '/clock', { speed: x })),
      throttling: async (on) => void (await simControl(ep, '/throttling', { on })),
      failNext: async (service, action, n, status) => void (await simControl(ep, '/fail-next', { service, action, n, status })),
      seedRecords: async (zone, records) => void (await simControl(ep, '/seed/records', { zone, records })),
    };
  }
  return undefined;
}

async function zoneIdByName(name: string): Promise<string> {
  const out = await r53.send(new ListHostedZonesByNameCommand({ DNSName: name, MaxItems: 1 }));
  const z = out.HostedZones?.[0];
  assert.equal(z?.Name, `${name}.`);
  return z!.Id!.replace('/hostedzone/', '');
}

describe('local cloud Route 53', () => {
  before(async () => {
    cloud = await cloudUnderTest();
    r53 = cloud.clients.route53;
  });
  after(async () => {
    await cloud.close();
  });

  describe('hosted zones', () => {
    test('CreateHostedZone: 201 with Location, lowercase name with trailing dot, 4 name servers, SOA and NS records', async () => {
      const name = uniqueZone('Create').toUpperCase();
      const out = await r53.send(new CreateHostedZoneCommand({ Name: name, CallerReference: `create-${name}`, HostedZoneConfig: { Comment: 'a <comment> & more', PrivateZone: false } }));
      assert.equal(out.$metadata.httpStatusCode, 201);
      assert.match(out.HostedZone!.Id!, /^\/hostedzone\/Z[A-Z0-9]{13,21}$/);
      const id = out.HostedZone!.Id!.replace('/hostedzone/', '');
      assert.equal(out.Location, `https://route53.amazonaws.com/2013-04-01/hostedzone/${id}`);
      assert.equal(out.HostedZone!.Name, `${name.toLowerCase()}.`);
      assert.equal(out.HostedZone!.CallerReference, `create-${name}`);
      assert.deepEqual(out.HostedZone!.Config, { Comment: 'a <comment> & more', PrivateZone: false });
      assert.equal(out.HostedZone!.ResourceRecordSetCount, 2);
      assert.match(out.ChangeInfo!.Id!, /^\/change\/C[A-Z0-9]+$/);
      assert.equal(out.ChangeInfo!.Status, 'PENDING');
      assert.ok(out.ChangeInfo!.SubmittedAt instanceof Date);
      const ns = out.DelegationSet!.NameServers!;
      assert.equal(ns.length, 4);
      for (const n of ns) assert.match(n, /^ns-\d+\.awsdns-\d{2}\.(com|net|org|co\.uk)$/);

      const { sets } = await listAll(id);
      assert.equal(sets.length, 2);
      assert.deepEqual(
        sets.map((s) => [s.Name, s.Type, s.TTL]),
        [
          [`${name.toLowerCase()}.`, 'NS', 172800],
          [`${name.toLowerCase()}.`, 'SOA', 900],
        ],
      );
      assert.deepEqual(sets[0]!.ResourceRecords!.map((r) => r.Value), ns.map((n) => `${n}.`));
      assert.match(sets[1]!.ResourceRecords![0]!.Value!, /^ns-\d+\.awsdns-\d{2}\.com\. awsdns-hostmaster\.amazon\.com\. 1 7200 900 1209600 86400$/);
    });

    test('CallerReference is single-use: reusing it fails with HostedZoneAlreadyExists (409), even for another name or after deletion', async () => {
      const ref = `once-${process.pid}`;
      const id = await createZone(uniqueZone('ref'), ref);
      const again = await failure(r53.send(new CreateHostedZoneCommand({ Name: uniqueZone('ref-other'), CallerReference: ref })));
      assert.deepEqual(again, { name: 'HostedZoneAlreadyExists', message: 'A hosted zone has already been created with the specified caller reference.', status: 409 });
      await r53.send(new DeleteHostedZoneCommand({ Id: id }));
      assert.equal(await errorCode(r53.send(new CreateHostedZoneCommand({ Name: uniqueZone('ref-after'), CallerReference: ref }))), 'HostedZoneAlreadyExists');
      // A different reference for an existing name is a second zone (public zones may share a name).
      const name = uniqueZone('twin');
      const a = await createZone(name, `${ref}-a`);
      const b = await createZone(name, `${ref}-b`);
      assert.notEqual(a, b);
    });

    test('CreateHostedZone rejects an invalid domain name with InvalidDomainName (400)', async () => {
      for (const bad of ['bad..example', `${'x'.repeat(64)}.example`, 'sp ace.example']) {
        const f = await failure(r53.send(new CreateHostedZoneCommand({ Name: bad, CallerReference: `bad-${bad}` })));
        assert.equal(f.name, 'InvalidDomainName', bad);
        assert.equal(f.status, 400);
      }
    });

    test('GetHostedZone by bare id and by /hostedzone/ id; unknown zone is NoSuchHostedZone (404)', async () => {
      const name = uniqueZone('get');
      const id = await createZone(name);
      for (const ref of [id, `/hostedzone/${id}`]) {
        const out = await r53.send(new GetHostedZoneCommand({ Id: ref }));
        assert.equal(out.HostedZone!.Id, `/hostedzone/${id}`);
        assert.equal(out.HostedZone!.Name, `${name}.`);
        assert.equal(out.HostedZone!.ResourceRecordSetCount, 2);
        assert.equal(out.DelegationSet!.NameServers!.length, 4);
      }
      const missing = await failure(r53.send(new GetHostedZoneCommand({ Id: 'ZNOSUCHZONE0000' })));
      assert.deepEqual(missing, { name: 'NoSuchHostedZone', message: 'No hosted zone found with ID: ZNOSUCHZONE0000', status: 404 });
      assert.equal(await errorCode(r53.send(new GetHostedZoneCommand({ Id: 'Z'.repeat(40) }))), 'InvalidInput');
      const count = await r53.send(new GetHostedZoneCountCommand({}));
      assert.ok((count.HostedZoneCount ?? 0) >= 1);
    });

    test('ListHostedZonesByName orders by reversed labels, starts at DNSName/HostedZoneId, and pages with NextDNSName/NextHostedZoneId', async () => {
      const tld = `ord${process.pid}`;
      const names = [`z.example.${tld}`, `a.other.${tld}`, `example.${tld}`, `b.example.${tld}`, `a-b.example.${tld}`];
      const ids = new Map<string, string>();
      for (const n of names) ids.set(n, await createZone(n));
      const twin = await createZone(`b.example.${tld}`); // same name, later id
      const expected = [`example.${tld}.`, `a-b.example.${tld}.`, `b.example.${tld}.`, `b.example.${tld}.`, `z.example.${tld}.`, `a.other.${tld}.`];

      const all = await r53.send(new ListHostedZonesByNameCommand({ DNSName: `example.${tld}` }));
      const mine = all.HostedZones!.filter((z) => z.Name!.endsWith(`${tld}.`));
      assert.deepEqual(mine.map((z) => z.Name), expected);
      assert.deepEqual(
        mine.filter((z) => z.Name === `b.example.${tld}.`).map((z) => z.Id),
        [`/hostedzone/${ids.get(`b.example.${tld}`)}`, `/hostedzone/${twin}`],
      );
      assert.equal(all.DNSName, `example.${tld}`);

      // Page one zone at a time from the start of this TLD.
      const seen: string[] = [];
      let dnsName: string | undefined = `example.${tld}`;
      let zoneId: string | undefined;
      for (let guard = 0; guard < 20 && dnsName !== undefined; guard++) {
        const page: ListHostedZonesByNameCommandOutput = await r53.send(
          new ListHostedZonesByNameCommand({ DNSName: dnsName, ...(zoneId ? { HostedZoneId: zoneId } : {}), MaxItems: 1 }),
        );
        assert.equal(page.HostedZones!.length, 1);
        assert.equal(page.MaxItems, 1);
        const z = page.HostedZones![0]!;
        if (!z.Name!.endsWith(`${tld}.`)) break;
        seen.push(z.Id!);
        if (!page.IsTruncated) break;
        dnsName = page.NextDNSName;
        zoneId = page.NextHostedZoneId;
        assert.ok(dnsName && zoneId);
      }
      assert.deepEqual(seen, mine.map((z) => z.Id));

      const err = await failure(r53.send(new ListHostedZonesByNameCommand({ HostedZoneId: twin })));
      assert.equal(err.name, 'InvalidInput');
      assert.equal(err.status, 400);
    });

    test('ListHostedZones pages with Marker/NextMarker and MaxItems, each zone once', async () => {
      for (let i = 0; i < 5; i++) await createZone(uniqueZone('lhz'));
      const ids: string[] = [];
      let marker: string | undefined;
      let pages = 0;
      for (;;) {
        const out = await r53.send(new ListHostedZonesCommand({ MaxItems: 2, ...(marker ? { Marker: marker } : {}) }));
        pages++;
        assert.ok(out.HostedZones!.length <= 2);
        ids.push(...out.HostedZones!.map((z) => z.Id!));
        if (!out.IsTruncated) break;
        marker = out.NextMarker;
        assert.ok(marker);
      }
      assert.equal(new Set(ids).size, ids.length, 'no zone twice');
      const count = await r53.send(new GetHostedZoneCountCommand({}));
      assert.equal(ids.length, count.HostedZoneCount);
      assert.equal(pages, Math.ceil(ids.length / 2));
    });

    test('DeleteHostedZone: HostedZoneNotEmpty while records other than SOA/NS exist; then deleted', async () => {
      const name = uniqueZone('del');
      const id = await createZone(name);
      await apply(id, [change('CREATE', rrset(`www.${name}`, 'A', 60, ['192.0.2.1']))]);
      const f = await failure(r53.send(new DeleteHostedZoneCommand({ Id: id })));
      assert.equal(f.name, 'HostedZoneNotEmpty');
      assert.equal(f.status, 400);
      await apply(id, [change('DELETE', rrset(`www.${name}`, 'A', 60, ['192.0.2.1']))]);
      const out = await r53.send(new DeleteHostedZoneCommand({ Id: id }));
      assert.equal(out.ChangeInfo!.Status, 'PENDING');
      assert.equal(await errorCode(r53.send(new GetHostedZoneCommand({ Id: id }))), 'NoSuchHostedZone');
      assert.equal(await errorCode(apply(id, [change('CREATE', rrset(`www.${name}`, 'A', 60, ['192.0.2.1']))])), 'NoSuchHostedZone');
    });
  });

  describe('ChangeResourceRecordSets', () => {
    let zone: string;
    let zoneId: string;
    before(async () => {
      zone = uniqueZone('crrs');
      zoneId = await createZone(zone);
    });

    test('CREATE, UPSERT and DELETE; ChangeInfo is PENDING with the batch comment', async () => {
      const out = await r53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: `/hostedzone/${zoneId}`,
          ChangeBatch: { Comment: 'first', Changes: [change('CREATE', rrset(`web-01.${zone}`, 'A', 60, ['10.0.0.1']))] },
        }),
      );
      assert.equal(out.ChangeInfo!.Status, 'PENDING');
      assert.equal(out.ChangeInfo!.Comment, 'first');
      await apply(zoneId, [change('UPSERT', rrset(`web-01.${zone}`, 'A', 300, ['10.0.0.2', '10.0.0.3']))]);
      await apply(zoneId, [change('UPSERT', rrset(`web-02.${zone}`, 'A', 60, ['10.0.0.4']))]);
      let { sets } = await listAll(zoneId);
      assert.deepEqual(summary(sets).slice(2), [`web-01.${zone}. A 300 10.0.0.2,10.0.0.3`, `web-02.${zone}. A 60 10.0.0.4`]);
      // DELETE matches values as a set: order does not matter.
      await apply(zoneId, [change('DELETE', rrset(`WEB-01.${zone}.`, 'A', 300, ['10.0.0.3', '10.0.0.2']))]);
      await apply(zoneId, [change('DELETE', rrset(`web-02.${zone}`, 'A', 60, ['10.0.0.4']))]);
      ({ sets } = await listAll(zoneId));
      assert.equal(sets.length, 2);
      const zoneOut = await r53.send(new GetHostedZoneCommand({ Id: zoneId }));
      assert.equal(zoneOut.HostedZone!.ResourceRecordSetCount, 2);
    });

    test('the exact InvalidChangeBatch messages: already exists, not found, values do not match', async () => {
      const n = `msg.${zone}`;
      await apply(zoneId, [change('CREATE', rrset(n, 'A', 60, ['10.1.0.1']))]);
      const exists = await failure(apply(zoneId, [change('CREATE', rrset(n, 'A', 60, ['10.1.0.1']))]));
      assert.deepEqual(exists, { name: 'InvalidChangeBatch', message: `[Tried to create resource record set [name='${n}.', type='A'] but it already exists]`, status: 400 });
      const notFound = await failure(apply(zoneId, [change('DELETE', rrset(`nothere.${zone}`, 'A', 60, ['10.1.0.1']))]));
      assert.equal(notFound.message, `[Tried to delete resource record set [name='nothere.${zone}.', type='A'] but it was not found]`);
      const wrongValue = await failure(apply(zoneId, [change('DELETE', rrset(n, 'A', 60, ['10.1.0.2']))]));
      assert.equal(wrongValue.message, `[Tried to delete resource record set [name='${n}.', type='A'] but the values provided do not match the current values]`);
      const wrongTtl = await failure(apply(zoneId, [change('DELETE', rrset(n, 'A', 61, ['10.1.0.1']))]));
      assert.equal(wrongTtl.message, `[Tried to delete resource record set [name='${n}.', type='A'] but the values provided do not match the current values]`);
      const extraValue = await failure(apply(zoneId, [change('DELETE', rrset(n, 'A', 60, ['10.1.0.1', '10.1.0.9']))]));
      assert.equal(extraValue.name, 'InvalidChangeBatch');
      // Several problems: one error, every message, in change order.
      const several = await failure(
        apply(zoneId, [change('CREATE', rrset(n, 'A', 60, ['10.1.0.1'])), change('DELETE', rrset(`gone.${zone}`, 'TXT', 60, ['"x"']))]),
      );
      assert.equal(
        several.message,
        `[Tried to create resource record set [name='${n}.', type='A'] but it already exists, Tried to delete resource record set [name='gone.${zone}.', type='TXT'] but it was not found]`,
      );
      await apply(zoneId, [change('DELETE', rrset(n, 'A', 60, ['10.1.0.1']))]);
    });

    test('a batch is atomic: [CREATE ok, DELETE mismatching] changes nothing', async () => {
      const n = `atomic.${zone}`;
      await apply(zoneId, [change('CREATE', rrset(n, 'A', 60, ['10.2.0.1']))]);
      const before = summary((await listAll(zoneId)).sets);
      const f = await failure(apply(zoneId, [change('CREATE', rrset(`new.${zone}`, 'A', 60, ['10.2.0.2'])), change('DELETE', rrset(n, 'A', 60, ['10.2.0.99']))]));
      assert.equal(f.message, `[Tried to delete resource record set [name='${n}.', type='A'] but the values provided do not match the current values]`);
      assert.deepEqual(summary((await listAll(zoneId)).sets), before);
      await apply(zoneId, [change('DELETE', rrset(n, 'A', 60, ['10.2.0.1']))]);
    });

    test('[DELETE old, CREATE new] is a compare-and-swap: of two racing clients exactly one wins', async () => {
      const n = `web-03.${zone}`;
      await apply(zoneId, [change('CREATE', rrset(n, 'A', 60, ['10.3.0.1']))]);
      const other = cloud.makeClients().route53;
      try {
        const swap = (ip: string, client: Route53Client) =>
          apply(zoneId, [change('DELETE', rrset(n, 'A', 60, ['10.3.0.1'])), change('CREATE', rrset(n, 'A', 60, [ip]))], client);
        const results = await Promise.allSettled([swap('10.3.0.2', r53), swap('10.3.0.3', other)]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        assert.equal(won.length, 1);
        assert.equal(lost.length, 1);
        assert.equal((lost[0]!.reason as Error).name, 'InvalidChangeBatch');
        const winner = results[0]!.status === 'fulfilled' ? '10.3.0.2' : '10.3.0.3';
        const cur = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: n, StartRecordType: 'A', MaxItems: 1 }));
        assert.deepEqual(cur.ResourceRecordSets![0]!.ResourceRecords, [{ Value: winner }]);
        await apply(zoneId, [change('DELETE', rrset(n, 'A', 60, [winner]))]);
      } finally {
        other.destroy();
      }
    });

    test('two changes to one record set in a batch (other than DELETE then CREATE) are refused', async () => {
      const n = `twice.${zone}`;
      const f = await failure(apply(zoneId, [change('UPSERT', rrset(n, 'TXT', 60, ['"a"'])), change('UPSERT', rrset(n, 'TXT', 60, ['"b"']))]));
      assert.equal(f.message, `[The request contains an invalid set of changes for a resource record set 'TXT ${n}.']`);
      const g = await failure(apply(zoneId, [change('CREATE', rrset(n, 'A', 60, ['10.4.0.1'])), change('DELETE', rrset(n, 'A', 60, ['10.4.0.1']))]));
      assert.equal(g.name, 'InvalidChangeBatch');
      assert.equal((await listAll(zoneId)).sets.filter((s) => s.Name === `${n}.`).length, 0);
    });

    test('names outside the zone, CNAME rules, and the apex SOA/NS', async () => {
      const outside = await failure(apply(zoneId, [change('CREATE', rrset('www.elsewhere.example', 'A', 60, ['10.5.0.1']))]));
      assert.equal(outside.message, `[RRSet with DNS name www.elsewhere.example. is not permitted in zone ${zone}.]`);
      const apexCname = await failure(apply(zoneId, [change('CREATE', rrset(zone, 'CNAME', 60, ['target.example.net']))]));
      assert.equal(apexCname.message, `[RRSet of type CNAME with DNS name ${zone}. is not permitted at apex in zone ${zone}.]`);

      const n = `alias.${zone}`;
      await apply(zoneId, [change('CREATE', rrset(n, 'CNAME', 60, ['target.example.net']))]);
      const aOverCname = await failure(apply(zoneId, [change('CREATE', rrset(n, 'A', 60, ['10.5.0.2']))]));
      assert.equal(aOverCname.message, `[RRSet of type A with DNS name ${n}. is not permitted because a conflicting RRSet of type  CNAME with the same DNS name already exists in zone ${zone}.]`);
      // Replacing the CNAME by an A record in one batch is fine.
      await apply(zoneId, [change('DELETE', rrset(n, 'CNAME', 60, ['target.example.net'])), change('CREATE', rrset(n, 'A', 60, ['10.5.0.2']))]);
      const cnameOverA = await failure(apply(zoneId, [change('CREATE', rrset(n, 'CNAME', 60, ['target.example.net']))]));
      assert.equal(cnameOverA.message, `[RRSet of type CNAME with DNS name ${n}. is not permitted as it conflicts with other records with the same DNS name in zone ${zone}.]`);
      await apply(zoneId, [change('DELETE', rrset(n, 'A', 60, ['10.5.0.2']))]);

      const apex = (await listAll(zoneId)).sets.slice(0, 2);
      const [ns, soa] = apex as [ResourceRecordSet, ResourceRecordSet];
      assert.equal(ns.Type, 'NS');
      const delSoa = await failure(apply(zoneId, [change('DELETE', soa)]));
      assert.equal(delSoa.message, '[A HostedZone must contain exactly one SOA record.]');
      const delNs = await failure(apply(zoneId, [change('DELETE', ns)]));
      assert.equal(delNs.message, '[A HostedZone must contain at least one NS record for the zone itself.]');
      // UPSERT of the apex NS (e.g. a longer TTL) is allowed.
      await apply(zoneId, [change('UPSERT', { ...ns, TTL: 3600 })]);
      assert.equal((await listAll(zoneId)).sets[0]!.TTL, 3600);
    });

    test('value validation: TXT must be quoted strings of at most 255 characters each; A must be IPv4', async () => {
      const n = `txt.${zone}`;
      const unquoted = await failure(apply(zoneId, [change('CREATE', rrset(n, 'TXT', 60, ['v=spf1 -all']))]));
      assert.equal(unquoted.message, `[Invalid Resource Record: 'FATAL problem: InvalidCharacterString (Value should be enclosed in quotation marks) encountered with 'v=spf1 -all'']`);
      const long = `"${'x'.repeat(256)}"`;
      const tooLong = await failure(apply(zoneId, [change('CREATE', rrset(n, 'TXT', 60, [long]))]));
      assert.equal(tooLong.message, `[Invalid Resource Record: 'FATAL problem: TXTRDATATooLong (Value is too long) encountered with '${long}'']`);
      // Two strings of 255 characters in one value are fine; an escaped quote counts as one character.
      const ok = `"${'y'.repeat(255)}" "${'z'.repeat(253)}\\""`;
      await apply(zoneId, [change('CREATE', rrset(n, 'TXT', 60, [ok, '"v=spf1 -all"']))]);
      const badA = await failure(apply(zoneId, [change('CREATE', rrset(`a.${zone}`, 'A', 60, ['10.0.0']))]));
      assert.equal(badA.message, `[Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '10.0.0'']`);
      const badMx = await failure(apply(zoneId, [change('CREATE', rrset(`mx.${zone}`, 'MX', 60, ['mail.example.com']))]));
      assert.match(badMx.message, /MXRRDATANotTwoFields/);
      await apply(zoneId, [
        change('CREATE', rrset(`mx.${zone}`, 'MX', 60, ['10 mail.example.com.'])),
        change('CREATE', rrset(`_sip._tcp.${zone}`, 'SRV', 60, ['10 5 5060 sip.example.com.'])),
        change('CREATE', rrset(`v6.${zone}`, 'AAAA', 60, ['2001:db8::1'])),
        change('CREATE', rrset(zone, 'CAA', 60, ['0 issue "amazon.com"'])),
      ]);
      // DELETE compares parsed data: a TXT value spelled with other blanks and an AAAA spelled out still match.
      await apply(zoneId, [
        change('DELETE', rrset(n, 'TXT', 60, ['"v=spf1 -all"', ok.replace('" "', '"   "')])),
        change('DELETE', rrset(`v6.${zone}`, 'AAAA', 60, ['2001:0db8:0:0:0:0:0:1'])),
        change('DELETE', rrset(`mx.${zone}`, 'MX', 60, ['10 MAIL.example.com'])),
        change('DELETE', rrset(`_sip._tcp.${zone}`, 'SRV', 60, ['10 5 5060 sip.example.com.'])),
        change('DELETE', rrset(zone, 'CAA', 60, ['0 issue "amazon.com"'])),
      ]);
      const dup = await failure(apply(zoneId, [change('CREATE', rrset(`dup.${zone}`, 'A', 60, ['10.6.0.1', '10.6.0.1']))]));
      assert.equal(dup.name, 'InvalidChangeBatch');
    });

    test('structural errors are InvalidInput: TTL missing or out of range, bad type', async () => {
      const noTtl = await failure(apply(zoneId, [change('CREATE', { Name: `nottl.${zone}`, Type: 'A', ResourceRecords: [{ Value: '10.7.0.1' }] })]));
      assert.equal(noTtl.name, 'InvalidInput');
      assert.equal(
        noTtl.message,
        `Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=CREATE, Name=nottl.${zone}., Type=A, SetIdentifier=null]`,
      );
      const negative = await failure(apply(zoneId, [change('CREATE', rrset(`neg.${zone}`, 'A', -1, ['10.7.0.1']))]));
      assert.equal(negative.name, 'InvalidInput');
      assert.match(negative.message, /tTL' failed to satisfy constraint: Member must have value greater than or equal to 0/);
      assert.equal(await errorCode(apply(zoneId, [change('CREATE', rrset(`big.${zone}`, 'A', 2147483648, ['10.7.0.1']))])), 'InvalidInput');
      await apply(zoneId, [change('CREATE', rrset(`max.${zone}`, 'A', 2147483647, ['10.7.0.1']))]);
      assert.equal(await errorCode(apply(zoneId, [change('CREATE', rrset(`type.${zone}`, 'BOGUS', 60, ['x']))])), 'InvalidInput');
      await apply(zoneId, [change('DELETE', rrset(`max.${zone}`, 'A', 2147483647, ['10.7.0.1']))]);
    });

    test('wildcards come back as \\052 and can be deleted by either spelling; names are lowercased', async () => {
      await apply(zoneId, [change('CREATE', rrset(`*.WILD.${zone}`, 'A', 60, ['10.8.0.1']))]);
      const out = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: `*.wild.${zone}`, MaxItems: 1 }));
      assert.equal(out.ResourceRecordSets![0]!.Name, `\\052.wild.${zone}.`);
      const dupe = await failure(apply(zoneId, [change('CREATE', rrset(`\\052.wild.${zone}`, 'A', 60, ['10.8.0.1']))]));
      assert.equal(dupe.message, `[Tried to create resource record set [name='\\052.wild.${zone}.', type='A'] but it already exists]`);
      await apply(zoneId, [change('DELETE', rrset(`\\052.wild.${zone}.`, 'A', 60, ['10.8.0.1']))]);
    });

    test('UPSERT creates or overwrites blindly (last writer wins)', async () => {
      const n = `up.${zone}`;
      await apply(zoneId, [change('UPSERT', rrset(n, 'A', 60, ['10.9.0.1']))]);
      await apply(zoneId, [change('UPSERT', rrset(n, 'A', 120, ['10.9.0.2']))]);
      const out = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: n, StartRecordType: 'A', MaxItems: 1 }));
      assert.deepEqual(summary(out.ResourceRecordSets!), [`${n}. A 120 10.9.0.2`]);
      await apply(zoneId, [change('DELETE', rrset(n, 'A', 120, ['10.9.0.2']))]);
    });

    test('weighted record sets with SetIdentifier: listed by identifier, deleted exactly, NextRecordIdentifier when paging', async () => {
      const n = `weighted.${zone}`;
      await apply(zoneId, [
        change('CREATE', rrset(n, 'A', 60, ['10.10.0.2'], { SetIdentifier: 'blue', Weight: 10 })),
        change('CREATE', rrset(n, 'A', 60, ['10.10.0.1'], { SetIdentifier: 'alpha', Weight: 90 })),
      ]);
      const first = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: n, StartRecordType: 'A', MaxItems: 1 }));
      assert.equal(first.ResourceRecordSets![0]!.SetIdentifier, 'alpha');
      assert.equal(first.ResourceRecordSets![0]!.Weight, 90);
      assert.equal(first.NextRecordIdentifier, 'blue');
      const f = await failure(apply(zoneId, [change('DELETE', rrset(n, 'A', 60, ['10.10.0.2'], { SetIdentifier: 'blue', Weight: 11 }))]));
      assert.equal(f.message, `[Tried to delete resource record set [name='${n}.', type='A', set-identifier='blue'] but the values provided do not match the current values]`);
      await apply(zoneId, [
        change('DELETE', rrset(n, 'A', 60, ['10.10.0.2'], { SetIdentifier: 'blue', Weight: 10 })),
        change('DELETE', rrset(n, 'A', 60, ['10.10.0.1'], { SetIdentifier: 'alpha', Weight: 90 })),
      ]);
    });
  });

  describe('ListResourceRecordSets', () => {
    test('orders by name with labels reversed (- sorts before .), then by type', async () => {
      const zone = uniqueZone('order');
      const id = await createZone(zone);
      const names = [`web-03.prod.${zone}`, `b.prod.${zone}`, `x.a.prod.${zone}`, `a.prod.${zone}`, `a-b.prod.${zone}`, `prod.${zone}`, `zz.${zone}`, `aa.${zone}`];
      await apply(
        id,
        names.map((n, i) => change('CREATE', rrset(n, 'A', 60, [`10.11.0.${i + 1}`]))),
      );
      await apply(id, [
        change('CREATE', rrset(`web-03.prod.${zone}`, 'TXT', 60, ['"role=web"'])),
        change('CREATE', rrset(`web-03.prod.${zone}`, 'AAAA', 60, ['2001:db8::3'])),
        change('CREATE', rrset(`web-03.prod.${zone}`, 'MX', 60, ['10 mx.example.com.'])),
      ]);
      const { sets } = await listAll(id);
      assert.deepEqual(
        sets.map((s) => `${s.Name} ${s.Type}`),
        [
          `${zone}. NS`,
          `${zone}. SOA`,
          `aa.${zone}. A`,
          `prod.${zone}. A`,
          `a-b.prod.${zone}. A`,
          `a.prod.${zone}. A`,
          `x.a.prod.${zone}. A`,
          `b.prod.${zone}. A`,
          `web-03.prod.${zone}. A`,
          `web-03.prod.${zone}. AAAA`,
          `web-03.prod.${zone}. MX`,
          `web-03.prod.${zone}. TXT`,
          `zz.${zone}. A`,
        ],
      );
      // StartRecordName alone starts at the first record set with that name or after it.
      const mid = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: id, StartRecordName: `a.prod.${zone}`, MaxItems: 2 }));
      assert.deepEqual(mid.ResourceRecordSets!.map((s) => s.Name), [`a.prod.${zone}.`, `x.a.prod.${zone}.`]);
      assert.equal(mid.IsTruncated, true);
      assert.equal(mid.NextRecordName, `b.prod.${zone}.`);
      assert.equal(mid.NextRecordType, 'A');
      // With a type: records of that name whose type sorts at or after it.
      const typed = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: id, StartRecordName: `WEB-03.prod.${zone}.`, StartRecordType: 'MX', MaxItems: 2 }));
      assert.deepEqual(typed.ResourceRecordSets!.map((s) => `${s.Name} ${s.Type}`), [`web-03.prod.${zone}. MX`, `web-03.prod.${zone}. TXT`]);
      // A name that does not exist starts at the next one in order.
      const gap = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: id, StartRecordName: `c.prod.${zone}`, MaxItems: 1 }));
      assert.equal(gap.ResourceRecordSets![0]!.Name, `web-03.prod.${zone}.`);
    });

    test('pagination over 1,050 records with MaxItems 100 returns each record exactly once, in order', async () => {
      const zone = uniqueZone('pages');
      const id = await createZone(zone);
      const all = Array.from({ length: 1050 }, (_, i) => change('CREATE', rrset(`h${String(i).padStart(4, '0')}.r${i % 7}.${zone}`, 'A', 60, [`10.12.${i >> 8}.${i & 255}`])));
      await apply(id, all.slice(0, 1000));
      await apply(id, all.slice(1000));
      const { sets, pages } = await listAll(id, 100);
      assert.equal(sets.length, 1052);
      assert.equal(pages, 11);
      assert.equal(new Set(sets.map((s) => `${s.Name} ${s.Type}`)).size, 1052);
      const keys = sets.map(awsOrderKey);
      for (let i = 1; i < keys.length; i++) assert.ok(keys[i - 1]! < keys[i]!, `out of order at ${i}: ${sets[i - 1]!.Name} then ${sets[i]!.Name}`);

      // MaxItems above 300 is capped at 300.
      const big = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: id, MaxItems: 1000 }));
      assert.equal(big.ResourceRecordSets!.length, 300);
      assert.equal(big.IsTruncated, true);
      const dflt = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: id }));
      assert.equal(dflt.ResourceRecordSets!.length, 300);
      assert.equal(dflt.MaxItems, 300);
    });

    test('StartRecordType without StartRecordName is InvalidInput; an unknown zone is NoSuchHostedZone', async () => {
      const zone = uniqueZone('lrrs-err');
      const id = await createZone(zone);
      const f = await failure(r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: id, StartRecordType: 'A' })));
      assert.equal(f.name, 'InvalidInput');
      assert.equal(f.status, 400);
      assert.equal(await errorStatus(r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: 'ZNOSUCH00000000' }))), 404);
      assert.equal(await errorCode(r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: id, StartRecordName: zone, StartRecordType: 'NOPE' as 'A' }))), 'InvalidInput');
    });
  });

  describe('changes and limits', () => {
    test('GetChange: PENDING until dnsSyncMs of simulated time has passed, then INSYNC; unknown id is NoSuchChange (404)', async (t) => {
      const k = knobs();
      if (!k) return t.skip('needs the local cloud control: sets dnsSyncMs and advances the simulated clock');
      const saved = await k.delays({ dnsSyncMs: 60_000 });
      try {
        const zone = uniqueZone('sync');
        const id = await createZone(zone);
        const out = await apply(id, [change('CREATE', rrset(`a.${zone}`, 'A', 60, ['10.13.0.1']))]);
        const changeId = out.ChangeInfo!.Id!;
        const pending = await r53.send(new GetChangeCommand({ Id: changeId }));
        assert.equal(pending.ChangeInfo!.Status, 'PENDING');
        assert.equal(pending.ChangeInfo!.Id, changeId);
        await k.advance(60_000);
        const insync = await r53.send(new GetChangeCommand({ Id: changeId.replace('/change/', '') }));
        assert.equal(insync.ChangeInfo!.Status, 'INSYNC');
        assert.equal(insync.ChangeInfo!.SubmittedAt!.getTime(), out.ChangeInfo!.SubmittedAt!.getTime());
      } finally {
        await k.delays(saved);
      }
      const missing = await failure(r53.send(new GetChangeCommand({ Id: 'C0000NOSUCHCHANGE' })));
      assert.equal(missing.name, 'NoSuchChange');
      assert.equal(missing.status, 404);
    });

    test('at most 1,000 ResourceRecord elements and 32,000 value characters per request; UPSERT counts twice', async () => {
      const zone = uniqueZone('limits');
      const id = await createZone(zone);
      const values = (n: number, base: number) => Array.from({ length: n }, (_, i) => `10.14.${(base + i) >> 8}.${(base + i) & 255}`);
      const tooMany = await failure(apply(id, [change('CREATE', rrset(`a.${zone}`, 'A', 60, values(600, 0))), change('CREATE', rrset(`b.${zone}`, 'A', 60, values(401, 600)))]));
      assert.deepEqual(tooMany, { name: 'InvalidChangeBatch', message: '[Number of records limit of 1000 exceeded.]', status: 400 });
      await apply(id, [change('CREATE', rrset(`a.${zone}`, 'A', 60, values(600, 0))), change('CREATE', rrset(`b.${zone}`, 'A', 60, values(400, 600)))]);
      const upsertTwice = await failure(apply(id, [change('UPSERT', rrset(`c.${zone}`, 'A', 60, values(501, 0)))]));
      assert.equal(upsertTwice.message, '[Number of records limit of 1000 exceeded.]');
      await apply(id, [change('UPSERT', rrset(`c.${zone}`, 'A', 60, values(500, 0)))]);
      const chunk = `"${'t'.repeat(255)}" "${'u'.repeat(255)}" "${'v'.repeat(255)}" "${'w'.repeat(200)}"`; // 976 characters
      const txt = (n: number) => Array.from({ length: n }, (_, i) => chunk.replace('"t', `"${i % 10}`));
      const tooLong = await failure(apply(id, [change('CREATE', rrset(`t.${zone}`, 'TXT', 60, txt(33)))]));
      assert.equal(tooLong.message, '[RDATA character limit of 32000 exceeded.]');
      const upsertChars = await failure(apply(id, [change('UPSERT', rrset(`t.${zone}`, 'TXT', 60, txt(17)))]));
      assert.equal(upsertChars.message, '[RDATA character limit of 32000 exceeded.]');
      await apply(id, [change('UPSERT', rrset(`t.${zone}`, 'TXT', 60, txt(10)))]);
    });

    test('the record-set quota per zone (AWS default 10,000) answers InvalidChangeBatch when exceeded', async (t) => {
      const control = cloud.control;
      if (!control) return t.skip('needs the in-process local cloud control: setRecordSetQuota');
      const zone = uniqueZone('quota');
      const id = await createZone(zone);
      control.route53.setRecordSetQuota(5);
      try {
        await apply(id, [1, 2, 3].map((i) => change('CREATE', rrset(`q${i}.${zone}`, 'A', 60, ['10.15.0.1']))));
        const f = await failure(apply(id, [change('CREATE', rrset(`q4.${zone}`, 'A', 60, ['10.15.0.1']))]));
        assert.deepEqual(f, { name: 'InvalidChangeBatch', message: `[Exceeded limit MAX_RRSETS_BY_ZONE for zone: ${id}]`, status: 400 });
        // Replacing within the quota is fine.
        await apply(id, [change('DELETE', rrset(`q3.${zone}`, 'A', 60, ['10.15.0.1'])), change('CREATE', rrset(`q4.${zone}`, 'A', 60, ['10.15.0.1']))]);
      } finally {
        control.route53.setRecordSetQuota(10_000);
      }
    });
  });

  describe('wire protocol robustness', () => {
    test('malformed XML, a DOCTYPE, a wrong root element and deep nesting get InvalidInput (400), never a crash', async () => {
      const zone = uniqueZone('xml');
      const id = await createZone(zone);
      const bodies = [
        '<ChangeResourceRecordSetsRequest><ChangeBatch>',
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><ChangeResourceRecordSetsRequest>&b;</ChangeResourceRecordSetsRequest>',
        '<SomethingElse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"/>',
        '<ChangeResourceRecordSetsRequest>' + '<a>'.repeat(10_000) + '</a>'.repeat(10_000) + '</ChangeResourceRecordSetsRequest>',
        '<ChangeResourceRecordSetsRequest>&bogus;</ChangeResourceRecordSetsRequest>',
        '',
      ];
      for (const body of bodies) {
        const client = tamperedClient((req) => {
          req.body = body;
        });
        try {
          const f = await failure(apply(id, [change('CREATE', rrset(`x.${zone}`, 'A', 60, ['10.16.0.1']))], client));
          assert.equal(f.name, 'InvalidInput', body.slice(0, 60));
          assert.equal(f.status, 400);
        } finally {
          client.destroy();
        }
      }
      assert.equal((await listAll(id)).sets.length, 2);
    });

    test('an unknown route gets an AWS error, not an HTML page', async () => {
      const client = tamperedClient((req) => {
        req.path = '/2013-04-01/nosuchthing';
      });
      try {
        const f = await failure(client.send(new GetHostedZoneCountCommand({})));
        assert.equal(f.name, 'UnknownOperationException');
        assert.equal(f.status, 404);
      } finally {
        client.destroy();
      }
    });

    test('the XML reader decodes entities and character references and refuses what it must', () => {
      const el = parseXml('<?xml version="1.0" encoding="UTF-8"?><a xmlns="urn:x"><p:b>&lt;&amp;&#65;&#x42;&quot;&apos;&gt;</p:b><c><![CDATA[<raw&>]]></c><!-- note --></a>');
      assert.equal(el.name, 'a');
      assert.equal(el.children[0]!.name, 'b');
      assert.equal(el.children[0]!.text, '<&AB"\'>');
      assert.equal(el.children[1]!.text, '<raw&>');
      for (const bad of ['<a>', '<a></b>', '<a/><b/>', '<a>&#0;</a>', '<a>&unknown;</a>', 'text<a/>', '<!DOCTYPE a><a/>', '<a><?pi x?></a>', '<a>\u0001</a>']) {
        assert.throws(() => parseXml(bad), /./, bad);
      }
    });
  });

  describe('fault knobs', () => {
    test("throttling: the account's burst of 50, then Throttling (400); after a simulated second 10 more", async (t) => {
      const k = knobs();
      if (!k) return t.skip('needs the local cloud control: throttling and the clock');
      const zone = uniqueZone('throttle');
      const id = await createZone(zone);
      await k.speed(0.001); // simulated time nearly stops: no refill while the burst is spent
      await k.throttling(true);
      try {
        for (let i = 0; i < 50; i++) await r53.send(new GetHostedZoneCommand({ Id: id }));
        const f = await failure(r53.send(new GetHostedZoneCommand({ Id: id })));
        assert.deepEqual(f, { name: 'Throttling', message: 'Rate exceeded', status: 400 });
        assert.equal(await errorCode(apply(id, [change('CREATE', rrset(`a.${zone}`, 'A', 60, ['10.20.0.1']))])), 'Throttling', 'the account bucket is shared by every action');
        await k.advance(1000); // 10 tokens back
        for (let i = 0; i < 10; i++) await r53.send(new GetHostedZoneCommand({ Id: id }));
        assert.equal(await errorCode(r53.send(new GetHostedZoneCommand({ Id: id }))), 'Throttling');
      } finally {
        await k.throttling(false);
        await k.speed(1);
      }
    });

    test('throttling: with maxAttempts 3 the SDK retries Throttling and recovers once tokens are back', async (t) => {
      const control = cloud.control;
      if (!control) return t.skip('needs the in-process local cloud control: refills the bucket between two attempts of one call');
      const zone = uniqueZone('throttle-retry');
      const id = await createZone(zone);
      const faults = control.faults;
      control.clock.setSpeed(0.001);
      control.setThrottling(true);
      const retrying = cloud.makeClients({ maxAttempts: 3 }).route53;
      try {
        while (faults.take('route53:api')) {
          /* spend the burst */
        }
        // The first attempt is throttled; the bucket refills before the SDK retries.
        const throttledBefore = faults.throttled.get('route53:GetHostedZone') ?? 0;
        const original = faults.countThrottle;
        faults.countThrottle = (key: string) => {
          original.call(faults, key);
          control.clock.advance(1000);
        };
        try {
          const out = await retrying.send(new GetHostedZoneCommand({ Id: id }));
          assert.equal(out.HostedZone!.Id, `/hostedzone/${id}`);
          assert.equal(out.$metadata.attempts, 2);
        } finally {
          delete (faults as unknown as Record<string, unknown>)['countThrottle'];
        }
        assert.equal(faults.throttled.get('route53:GetHostedZone'), throttledBefore + 1);
      } finally {
        retrying.destroy();
        control.setThrottling(false);
        control.clock.setSpeed(1);
      }
    });

    test('failNext: an injected 503 answers ServiceUnavailable and applies nothing; 500 is InternalFailure', async (t) => {
      const k = knobs();
      if (!k) return t.skip('needs the local cloud control: failNext');
      const zone = uniqueZone('fail');
      const id = await createZone(zone);
      await k.failNext('route53', 'ChangeResourceRecordSets', 1, 503);
      const f = await failure(apply(id, [change('CREATE', rrset(`a.${zone}`, 'A', 60, ['10.17.0.1']))]));
      assert.equal(f.name, 'ServiceUnavailable');
      assert.equal(f.status, 503);
      assert.equal((await listAll(id)).sets.length, 2);
      await k.failNext('route53', 'ListResourceRecordSets', 1, 500);
      const g = await failure(r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: id })));
      assert.equal(g.name, 'InternalFailure');
      assert.equal(g.status, 500);
      // The SDK retries 5xx itself.
      await k.failNext('route53', 'ChangeResourceRecordSets', 1, 500);
      const retrying = cloud.makeClients({ maxAttempts: 3 }).route53;
      try {
        const out = await apply(id, [change('CREATE', rrset(`a.${zone}`, 'A', 60, ['10.17.0.1']))], retrying);
        assert.equal(out.$metadata.attempts, 2);
      } finally {
        retrying.destroy();
      }
      assert.equal((await listAll(id)).sets.length, 3);
    });

    test('setPriorRequestNotComplete answers the next n changes on that zone with PriorRequestNotComplete (400)', async (t) => {
      const control = cloud.control;
      if (!control) return t.skip('needs the in-process local cloud control: setPriorRequestNotComplete');
      const zone = uniqueZone('prnc');
      const id = await createZone(zone);
      const other = uniqueZone('prnc-other');
      const otherId = await createZone(other);
      control.route53.setPriorRequestNotComplete(zone, 2);
      for (let i = 0; i < 2; i++) {
        const f = await failure(apply(id, [change('CREATE', rrset(`a.${zone}`, 'A', 60, ['10.18.0.1']))]));
        assert.equal(f.name, 'PriorRequestNotComplete');
        assert.equal(f.status, 400);
        await apply(otherId, [change('UPSERT', rrset(`a.${other}`, 'A', 60, [`10.18.1.${i}`]))]); // other zones unaffected
      }
      const before = control.route53.changes();
      await apply(id, [change('CREATE', rrset(`a.${zone}`, 'A', 60, ['10.18.0.1']))]);
      assert.equal(control.route53.changes(), before + 1);
      assert.deepEqual(
        control.route53.records(zone).map((r) => `${r.name} ${r.type}`),
        [`${zone}. NS`, `${zone}. SOA`, `a.${zone}. A`],
      );
    });
  });

  describe('scale', () => {
    test('seedRecords of 100,000 then a full listing: 334 pages of 300, every record exactly once', async (t) => {
      const k = knobs();
      if (!k) return t.skip('needs the local cloud control: seedRecords');
      const zone = uniqueZone('big');
      const records = Array.from({ length: 100_000 }, (_, i) => ({
        name: `web-${String(i).padStart(5, '0')}.r${i % 13}.${zone}`,
        type: 'A',
        ttl: 60,
        values: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
      }));
      await k.seedRecords(zone, records);
      const id = await zoneIdByName(zone);
      if (cloud.control) assert.equal(cloud.control.route53.zoneId(zone), id);
      const { sets, pages } = await listAll(id, 300);
      assert.equal(pages, 334);
      assert.equal(sets.length, 100_002);
      const names = new Set(sets.map((s) => s.Name));
      assert.equal(names.size, 100_001); // the apex has NS and SOA
      for (const r of records.slice(0, 1000)) assert.ok(names.has(`${r.name}.`));
      const keys = sets.map(awsOrderKey);
      for (let i = 1; i < keys.length; i++) if (!(keys[i - 1]! < keys[i]!)) assert.fail(`out of order at ${i}`);
      // The API can still add records to a seeded zone (its quota was raised).
      await apply(id, [change('CREATE', rrset(`extra.${zone}`, 'A', 60, ['10.19.0.1']))]);
      const z = await r53.send(new GetHostedZoneCommand({ Id: id }));
      assert.equal(z.HostedZone!.ResourceRecordSetCount, 100_003);
    });

    test('the record store does linear work per listing for 100 batches of 1,000 inserts with a listing after each', () => {
      // Counted, not timed: the store's work (comparisons and record sets visited by its lazy
      // rebuilds) per listing stays within O(N + k log k) for N stored and k new record sets,
      // i.e. a merge, never a re-sort of the whole zone (N log N: about 1.7 million comparisons
      // at the last batch, against a bound of 220,000) or an insert per record (N k).
      const store = new RecordStore();
      let n = 0;
      const k = 1000;
      for (let b = 0; b < 100; b++) {
        const before = store.work;
        for (let i = 0; i < k; i++) {
          const key = (n++ * 7919) % 100_000; // scattered, not appended in order
          const nameKey = `example.zone.h${String(key).padStart(6, '0')}.`;
          const rr: RRSet = { key: rrKey(nameKey, 'A', undefined), name: `h${key}.zone.example.`, type: 'A', ttl: 60, values: ['10.0.0.1'], canon: ['10.0.0.1'] };
          store.add(rr);
        }
        assert.equal(store.work, before, 'an insert does no sorting work');
        assert.equal(store.lowerBound(''), 0);
        assert.equal(store.sorted().length, (b + 1) * k);
        const size = (b + 1) * k;
        const bound = 2 * size + 2 * k * Math.ceil(Math.log2(k));
        assert.ok(store.work - before <= bound, `batch ${b}: ${store.work - before} units of work for ${size} record sets, bound ${bound}`);
        const again = store.work;
        store.sorted();
        assert.equal(store.work, again, 'a second listing without writes does no work');
      }
      const a = store.sorted();
      for (let i = 1; i < a.length; i++) if (!(a[i - 1]!.key < a[i]!.key)) assert.fail(`out of order at ${i}`);
    });
  });
});
