/** Route 53 adapter: the zone is the inventory. */
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  GetChangeCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsCommandOutput,
  type Route53Client,
  type RRType,
} from '@aws-sdk/client-route-53';
import type { DnsRecord } from '../model.js';
import type { BeforePage, Dns, DnsChange, HostedZone, PageProgress } from '../ports.js';
import { awsCode, cloudError } from './errors.js';
import { compactPage, own, parseListRecordSetsPage } from './compact-page.js';

/** What the SDK deserializes in place of a listing page read by compactPage. */
const EMPTY_LIST_RECORD_SETS = '<ListResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ResourceRecordSets/><IsTruncated>false</IsTruncated><MaxItems>300</MaxItems></ListResourceRecordSetsResponse>';
import { DnsConflictError, FleetError } from '../errors.js';

/** `web-03.prod.example.com.` -> `web-03.prod.example.com`; decodes Route 53's `\ooo` octal escapes (`\052` is `*`). */
export function decodeDnsName(name: string): string {
  const unescaped = name.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
  return unescaped.replace(/\.$/, '').toLowerCase();
}

export function bareZoneId(id: string): string {
  return id.replace(/^\/?hostedzone\//, '');
}

export function createRoute53Dns(client: Route53Client): Dns {
  return {
    async findZone(zone: string): Promise<HostedZone | undefined> {
      const want = zone.replace(/\.$/, '').toLowerCase();
      const found: HostedZone[] = [];
      let dnsName: string | undefined = want;
      let zoneId: string | undefined;
      // Zones come ordered by reversed labels; the ones named `want` come first from DNSName=want.
      for (let page = 0; page < 100; page++) {
        let out;
        try {
          out = await client.send(new ListHostedZonesByNameCommand({ DNSName: dnsName, ...(zoneId ? { HostedZoneId: zoneId } : {}), MaxItems: 100 }));
        } catch (err) {
          throw cloudError(`looking up hosted zone ${want}`, err);
        }
        let past = false;
        for (const z of out.HostedZones ?? []) {
          const name = decodeDnsName(z.Name ?? '');
          if (name !== want) {
            past = true;
            break;
          }
          if (z.Config?.PrivateZone) continue;
          found.push({ id: bareZoneId(z.Id ?? ''), name, ...(z.ResourceRecordSetCount !== undefined ? { recordCount: z.ResourceRecordSetCount } : {}) });
        }
        if (past || !out.IsTruncated) break;
        dnsName = out.NextDNSName;
        zoneId = out.NextHostedZoneId;
      }
      if (found.length > 1) {
        throw new FleetError(`${found.length} public hosted zones are named ${want} (${found.map((z) => z.id).join(', ')}); fleet needs exactly one — delete the extra ones`, {
          exitCode: 1,
          data: { zones: found },
        });
      }
      return found[0];
    },

    async createZone(zone: string, callerReference: string, comment: string): Promise<HostedZone> {
      try {
        const out = await client.send(
          new CreateHostedZoneCommand({ Name: zone, CallerReference: callerReference, HostedZoneConfig: { Comment: comment, PrivateZone: false } }),
        );
        return { id: bareZoneId(out.HostedZone?.Id ?? ''), name: decodeDnsName(out.HostedZone?.Name ?? zone) };
      } catch (err) {
        if (awsCode(err) === 'HostedZoneAlreadyExists') {
          // A retry of the same request (same caller reference) after an earlier attempt succeeded.
          const existing = await this.findZone(zone);
          if (existing) return existing;
        }
        throw cloudError(`creating hosted zone ${zone}`, err);
      }
    },

    async listRecords(zoneId: string, onPage?: PageProgress, beforePage?: BeforePage): Promise<DnsRecord[]> {
      const records: DnsRecord[] = [];
      let start: { name: string; type: RRType; id?: string } | undefined;
      let pages = 0;
      for (;;) {
        await beforePage?.();
        // The page is read by a scanner that keeps only name, type, TTL and values, not by the
        // SDK's deserializer (src/aws/compact-page.ts).
        const command = new ListResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          MaxItems: 300,
          ...(start ? { StartRecordName: start.name, StartRecordType: start.type, ...(start.id ? { StartRecordIdentifier: start.id } : {}) } : {}),
        });
        const page = compactPage(command, parseListRecordSetsPage, EMPTY_LIST_RECORD_SETS);
        try {
          await client.send(command);
        } catch (err) {
          throw cloudError(`listing records of zone ${zoneId}`, err);
        }
        pages++;
        const out = page();
        // own(): the decoded name without its trailing dot is otherwise a view into the page's copy.
        for (const rr of out.sets) records.push({ name: own(decodeDnsName(rr.Name)), type: rr.Type, ttl: rr.TTL ?? 0, values: rr.Values });
        onPage?.({ pages, items: records.length });
        if (!out.isTruncated || !out.nextRecordName) break;
        start = { name: out.nextRecordName, type: out.nextRecordType as RRType, ...(out.nextRecordIdentifier ? { id: out.nextRecordIdentifier } : {}) };
      }
      return records;
    },

    async getRecord(zoneId: string, fqdn: string): Promise<DnsRecord | undefined> {
      let out: ListResourceRecordSetsCommandOutput;
      try {
        out = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: fqdn, StartRecordType: 'A', MaxItems: 1 }));
      } catch (err) {
        throw cloudError(`reading the record of ${fqdn}`, err);
      }
      const rr = out.ResourceRecordSets?.[0];
      if (!rr || decodeDnsName(rr.Name ?? '') !== fqdn.toLowerCase() || rr.Type !== 'A') return undefined;
      return { name: decodeDnsName(rr.Name ?? ''), type: 'A', ttl: rr.TTL ?? 0, values: (rr.ResourceRecords ?? []).map((r) => r.Value ?? '') };
    },

    async change(zoneId: string, changes: DnsChange[], comment?: string): Promise<string> {
      try {
        const out = await client.send(
          new ChangeResourceRecordSetsCommand({
            HostedZoneId: zoneId,
            ChangeBatch: {
              ...(comment ? { Comment: comment.slice(0, 256) } : {}),
              Changes: changes.map((c) => ({
                Action: c.action,
                ResourceRecordSet: { Name: c.name, Type: c.type, TTL: c.ttl, ResourceRecords: c.values.map((Value) => ({ Value })) },
              })),
            },
          }),
        );
        return (out.ChangeInfo?.Id ?? '').replace(/^\/?change\//, '');
      } catch (err) {
        if (awsCode(err) === 'InvalidChangeBatch') {
          // AWS now sends the messages as one bracketed string in the error message, not as a list.
          const listed = (err as { messages?: string[] }).messages;
          const messages = listed && listed.length > 0 ? listed : [err instanceof Error ? err.message : String(err)];
          throw new DnsConflictError(`changing ${changes.map((c) => `${c.action} ${c.name}`).slice(0, 4).join(', ')}${changes.length > 4 ? ', …' : ''}`, messages, err);
        }
        throw cloudError(`changing records in zone ${zoneId}`, err);
      }
    },

    async changeStatus(changeId: string): Promise<'PENDING' | 'INSYNC'> {
      try {
        const out = await client.send(new GetChangeCommand({ Id: changeId }));
        return out.ChangeInfo?.Status === 'INSYNC' ? 'INSYNC' : 'PENDING';
      } catch (err) {
        throw cloudError(`reading change ${changeId}`, err);
      }
    },
  };
}
