/** Rendering for people: aligned tables and short summaries. JSON output never comes through here. */
import type { Inventory } from '../plan/inventory.js';

export function table(header: string[], rows: string[][]): string {
  return [...tablePieces(header, rows)].join('');
}

/**
 * An aligned table, one line a piece: a 100,000-name inventory is written as it is made, never
 * held as one text; and no width is taken over an argument list as long as the table (which
 * overflows the stack past a few hundred thousand rows).
 */
function* tablePieces(header: string[], rows: string[][]): Generator<string> {
  const widths = header.map((h) => h.length);
  for (const cells of rows) {
    for (let c = 0; c < widths.length; c++) widths[c] = Math.max(widths[c]!, (cells[c] ?? '').length);
  }
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd() + '\n';
  yield line(header);
  for (const cells of rows) yield line(cells);
}

export function renderInventory(inv: Inventory): string {
  return [...inventoryPieces(inv)].join('');
}

/** The inventory for people, in pieces (a line of its tables at a time) for writePieces. */
export function* inventoryPieces(inv: Inventory): Generator<string> {
  yield `fleet ${inv.fleet} · zone ${inv.zone}\n`;
  if (inv.rows.length === 0 && inv.orphans.length === 0) {
    yield 'no names: the zone holds no fleet records and fleet.yaml wants none\n';
  } else if (inv.rows.length > 0) {
    yield* tablePieces(
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
    );
  }
  if (inv.orphans.length > 0) {
    yield `\n${inv.orphans.length} orphan instance${inv.orphans.length === 1 ? '' : 's'} (tagged for fleet ${inv.fleet}, no record points at ${inv.orphans.length === 1 ? 'it' : 'them'}):\n`;
    yield* tablePieces(
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
    );
  }
  const standbys = inv.standbys ?? [];
  if (standbys.length > 0) {
    yield `\n${standbys.length} standby instance${standbys.length === 1 ? '' : 's'} (pre-warmed on a rebalance recommendation, kept out of DNS until the interruption warning):\n`;
    yield* tablePieces(
      ['INSTANCE', 'FOR', 'TYPE', 'MARKET', 'AZ', 'STATE', 'CONVERGED', 'RECOMMENDED AT'],
      standbys.map((x) => [x.instance.id, x.name ?? '-', x.instance.type, x.instance.market, x.instance.az, x.instance.state, x.instance.converged ? 'yes' : 'no', x.since]),
    );
  }
  const s = inv.summary;
  const issues = Object.entries(s.problems)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  yield `\n${s.names} name${s.names === 1 ? '' : 's'} (${s.desired} desired), ${s.served} served, ${s.converged} converged; ${issues.length ? issues.join(', ') : 'no problems'}\n`;
  if (inv.ignored.length > 0) {
    const shown = inv.ignored.slice(0, 5).map((r) => `${r.name} ${r.type}`);
    yield `${inv.ignored.length} record${inv.ignored.length === 1 ? '' : 's'} in the zone ${inv.ignored.length === 1 ? 'is' : 'are'} not fleet names and ${inv.ignored.length === 1 ? 'was' : 'were'} left out: ${shown.join(', ')}${inv.ignored.length > 5 ? ', …' : ''}\n`;
  }
}
