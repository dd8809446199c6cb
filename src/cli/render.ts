/** Rendering for people: aligned tables and short summaries. JSON output never comes through here. */
import type { Inventory } from '../plan/inventory.js';

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function renderInventory(inv: Inventory): string {
  const out: string[] = [];
  out.push(`fleet ${inv.fleet} · zone ${inv.zone}\n`);
  if (inv.rows.length === 0 && inv.orphans.length === 0) {
    out.push('no names: the zone holds no fleet records and fleet.yaml wants none\n');
  } else if (inv.rows.length > 0) {
    out.push(
      table(
        ['NAME', 'INSTANCE', 'TYPE', 'MARKET', 'AZ', 'STATE', 'IP', 'GEN', 'CONVERGED', 'PROBLEMS'],
        inv.rows.map((r) => [
          r.name,
          r.instance?.id ?? '-',
          r.instance?.type ?? '-',
          r.instance?.market ?? '-',
          r.instance?.az ?? '-',
          r.instance?.state ?? (r.record ? '-' : 'no record'),
          r.record?.values.join(',') || '-',
          r.instance?.generation !== undefined ? String(r.instance.generation) : '-',
          r.instance ? (r.instance.converged ? 'yes' : 'no') : '-',
          r.problems.map((p) => p.message).join('; '),
        ]),
      ),
    );
  }
  if (inv.orphans.length > 0) {
    out.push(`\n${inv.orphans.length} orphan instance${inv.orphans.length === 1 ? '' : 's'} (tagged for fleet ${inv.fleet}, no record points at ${inv.orphans.length === 1 ? 'it' : 'them'}):\n`);
    out.push(
      table(
        ['INSTANCE', 'TAGGED NAME', 'TYPE', 'MARKET', 'AZ', 'STATE', 'IP', 'GEN', 'LAUNCHED'],
        inv.orphans.map((o) => [
          o.instance.id,
          o.instance.name ?? '-',
          o.instance.type,
          o.instance.market,
          o.instance.az,
          o.instance.state,
          o.instance.privateIp ?? '-',
          o.instance.generation !== undefined ? String(o.instance.generation) : '-',
          o.instance.launchTime,
        ]),
      ),
    );
  }
  if (inv.standbys && inv.standbys.length > 0) {
    out.push(`\n${inv.standbys.length} standby instance${inv.standbys.length === 1 ? '' : 's'} (pre-warmed on a rebalance recommendation, kept out of DNS until the interruption warning):\n`);
    out.push(
      table(
        ['INSTANCE', 'FOR', 'TYPE', 'MARKET', 'AZ', 'STATE', 'CONVERGED', 'RECOMMENDED AT'],
        inv.standbys.map((x) => [x.instance.id, x.name ?? '-', x.instance.type, x.instance.market, x.instance.az, x.instance.state, x.instance.converged ? 'yes' : 'no', x.since]),
      ),
    );
  }
  const s = inv.summary;
  const issues = Object.entries(s.problems)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  out.push(`\n${s.names} name${s.names === 1 ? '' : 's'} (${s.desired} desired), ${s.served} served, ${s.converged} converged; ${issues.length ? issues.join(', ') : 'no problems'}\n`);
  if (inv.ignored.length > 0) {
    const shown = inv.ignored.slice(0, 5).map((r) => `${r.name} ${r.type}`);
    out.push(`${inv.ignored.length} record${inv.ignored.length === 1 ? '' : 's'} in the zone ${inv.ignored.length === 1 ? 'is' : 'are'} not fleet names and ${inv.ignored.length === 1 ? 'was' : 'were'} left out: ${shown.join(', ')}${inv.ignored.length > 5 ? ', …' : ''}\n`);
  }
  return out.join('');
}
