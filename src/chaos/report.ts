/**
 * The rehearsal's report: ONE self-contained HTML page (no network, no script, no CDN; inline
 * SVG) that an operator can show their team: a chart of time-to-rebuilt per role against the
 * budget, and a night-by-night timeline. Pure: the rehearsal's result in, a string out.
 */
import type { RehearsalResult } from './stats.js';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function minutes(ms: number | undefined): string {
  if (ms === undefined) return '–';
  if (!Number.isFinite(ms)) return 'never';
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** Time-to-rebuilt per role: every kill as a dot, p50 and p95 as ticks, the budget as a red line. */
function ttrChart(r: RehearsalResult): string {
  const roles = r.figures.roles;
  const W = 880;
  const rowH = 46;
  const left = 110;
  const right = 30;
  const top = 34;
  const H = top + rowH * Math.max(1, roles.length) + 40;
  const all = r.nights.flatMap((n) => n.kills.map((k) => k.timeToRebuiltMs ?? Infinity)).filter(Number.isFinite);
  const maxMs = Math.max(r.figures.budgetMs * 1.15, ...all.map((x) => x * 1.05), 60_000);
  const x = (ms: number) => left + ((W - left - right) * Math.min(ms, maxMs)) / maxMs;
  const parts: string[] = [];
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${left}" y="20" font-size="14" font-weight="bold" fill="#222">Time to rebuilt per role (kill → DNS points at a converged replacement)</text>`);
  // Axis with a tick per minute step.
  const step = maxMs > 40 * 60_000 ? 10 * 60_000 : maxMs > 12 * 60_000 ? 5 * 60_000 : 60_000;
  for (let t = 0; t <= maxMs; t += step) {
    parts.push(`<line x1="${x(t)}" y1="${top}" x2="${x(t)}" y2="${H - 30}" stroke="#e3e3e3" stroke-width="1"/>`);
    parts.push(`<text x="${x(t)}" y="${H - 14}" font-size="11" text-anchor="middle" fill="#555">${t / 60_000} min</text>`);
  }
  parts.push(`<line x1="${x(r.figures.budgetMs)}" y1="${top - 6}" x2="${x(r.figures.budgetMs)}" y2="${H - 30}" stroke="#d62728" stroke-width="2" stroke-dasharray="6 3"/>`);
  parts.push(`<text x="${x(r.figures.budgetMs) + 4}" y="${top - 8}" font-size="11" fill="#d62728">budget ${minutes(r.figures.budgetMs)}</text>`);
  roles.forEach((role, i) => {
    const cy = top + rowH * i + rowH / 2;
    const color = COLORS[i % COLORS.length]!;
    parts.push(`<rect x="${left}" y="${cy - rowH / 2 + 4}" width="${W - left - right}" height="${rowH - 8}" fill="${i % 2 ? '#fafafa' : '#f3f6fa'}"/>`);
    parts.push(`<text x="${left - 10}" y="${cy + 4}" font-size="13" text-anchor="end" fill="#222">${esc(role.role)} (${role.kills})</text>`);
    const kills = r.nights.flatMap((n) => n.kills.filter((k) => k.role === role.role).map((k) => ({ k, night: n.night })));
    kills.forEach(({ k, night }, j) => {
      const ms = k.timeToRebuiltMs ?? maxMs;
      const jitter = ((j * 7) % 11) - 5;
      parts.push(
        `<circle cx="${x(ms).toFixed(1)}" cy="${(cy + jitter).toFixed(1)}" r="5" fill="${k.timeToRebuiltMs === undefined ? '#d62728' : color}" fill-opacity="0.8" stroke="#333" stroke-width="0.5"><title>${esc(`night ${night}: ${k.name} (${k.kind}) ${k.timeToRebuiltMs === undefined ? 'not rebuilt' : `rebuilt in ${minutes(k.timeToRebuiltMs)}`}`)}</title></circle>`,
      );
    });
    for (const [label, ms] of [['p50', role.p50Ms], ['p95', role.p95Ms]] as const) {
      if (ms === undefined) continue;
      parts.push(`<line x1="${x(ms)}" y1="${cy - 14}" x2="${x(ms)}" y2="${cy + 14}" stroke="#111" stroke-width="2"/>`);
      parts.push(`<text x="${x(ms)}" y="${cy - 16}" font-size="10" text-anchor="middle" fill="#111">${label}</text>`);
    }
  });
  return `<svg id="ttr-chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="time to rebuilt per role">${parts.join('')}</svg>`;
}

/** One column per night: a bar per kill (colour of its role, height its time-to-rebuilt), grey when the night was refused. */
function timeline(r: RehearsalResult): string {
  const n = r.nights.length;
  const W = 880;
  const left = 50;
  const H = 220;
  const top = 30;
  const bottom = H - 40;
  const colW = (W - left - 20) / Math.max(1, n);
  const roles = r.figures.roles.map((x) => x.role);
  const maxMs = Math.max(r.figures.budgetMs, ...r.nights.flatMap((x) => x.kills.map((k) => k.timeToRebuiltMs ?? r.figures.budgetMs)));
  const y = (ms: number) => bottom - ((bottom - top) * Math.min(ms, maxMs)) / maxMs;
  const parts: string[] = [`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`];
  parts.push(`<text x="${left}" y="18" font-size="14" font-weight="bold" fill="#222">Night by night</text>`);
  parts.push(`<line x1="${left}" y1="${y(r.figures.budgetMs)}" x2="${W - 20}" y2="${y(r.figures.budgetMs)}" stroke="#d62728" stroke-dasharray="6 3"/>`);
  r.nights.forEach((night, i) => {
    const x0 = left + i * colW;
    if (night.kills.length === 0) {
      parts.push(`<rect x="${(x0 + 1).toFixed(1)}" y="${top}" width="${Math.max(1, colW - 2).toFixed(1)}" height="${bottom - top}" fill="#dddddd"><title>${esc(`night ${night.night} (${night.at.slice(0, 10)}): no kill — ${night.refused.join('; ') || 'no eligible name'}`)}</title></rect>`);
    }
    const bw = Math.max(1, (colW - 2) / Math.max(1, night.kills.length));
    night.kills.forEach((k, j) => {
      const ms = k.timeToRebuiltMs ?? maxMs;
      const color = k.timeToRebuiltMs === undefined || !k.withinBudget ? '#d62728' : COLORS[roles.indexOf(k.role) % COLORS.length]!;
      parts.push(`<rect x="${(x0 + 1 + j * bw).toFixed(1)}" y="${y(ms).toFixed(1)}" width="${bw.toFixed(1)}" height="${(bottom - y(ms)).toFixed(1)}" fill="${color}"><title>${esc(`night ${night.night}: ${k.name} (${k.kind}) ${minutes(k.timeToRebuiltMs)}`)}</title></rect>`);
    });
    for (const it of night.interruptions) {
      parts.push(`<circle cx="${(x0 + colW / 2).toFixed(1)}" cy="${bottom + 8}" r="3" fill="#ff7f0e"><title>${esc(`spot interruption of ${it.name}: unserved ${minutes(it.unservedMs)}`)}</title></circle>`);
    }
    if (n <= 40 || i % Math.ceil(n / 40) === 0) parts.push(`<text x="${(x0 + colW / 2).toFixed(1)}" y="${bottom + 26}" font-size="9" text-anchor="middle" fill="#555">${night.night}</text>`);
  });
  parts.push(`<text x="${left - 6}" y="${top + 4}" font-size="10" text-anchor="end" fill="#555">${minutes(maxMs)}</text>`);
  parts.push(`<text x="${left - 6}" y="${bottom}" font-size="10" text-anchor="end" fill="#555">0</text>`);
  return `<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="night by night timeline">${parts.join('')}</svg>`;
}

export function rehearsalHtml(r: RehearsalResult): string {
  const f = r.figures;
  const rows = f.roles
    .map(
      (x) =>
        `<tr><td>${esc(x.role)}</td><td>${x.kills}</td><td>${minutes(x.p50Ms)}</td><td>${minutes(x.p95Ms)}</td><td>${minutes(x.maxMs)}</td><td class="${x.overBudget ? 'bad' : ''}">${x.overBudget}</td><td>${x.unservedMinutes.toFixed(1)}</td><td class="${x.roleOutageMinutes > 0 ? 'bad' : ''}">${x.roleOutageMinutes.toFixed(1)}</td><td>${x.interruptions}</td></tr>`,
    )
    .join('');
  const refused = f.refused.length ? `<ul>${f.refused.map((x) => `<li>${x.nights} night${x.nights === 1 ? '' : 's'}: ${esc(x.reason)}</li>`).join('')}</ul>` : '<p>None: every night killed.</p>';
  const legend = f.roles.map((x, i) => `<span class="key"><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(x.role)}</span>`).join(' ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chaos rehearsal of fleet ${esc(r.spec.fleet)}: ${f.nights} nights</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
p.sub { margin: 0 0 12px; color: #555; }
table { border-collapse: collapse; margin: 12px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.bad { color: #d62728; font-weight: bold; }
.key { margin-right: 12px; } .key i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
</style>
</head>
<body>
${ttrChart(r)}
<h1>Chaos rehearsal of fleet ${esc(r.spec.fleet)}</h1>
<p class="sub">${f.nights} nights on the local cloud (schedule "${esc(r.spec.schedule)}" ${esc(r.spec.timezone)}, seed ${r.seed}, replay with <code>fleet chaos rehearse --nights ${f.nights} --seed ${r.seed}</code>); budget ${minutes(f.budgetMs)}; ${f.failedNights} failed night${f.failedNights === 1 ? '' : 's'}; ${f.unservedMinutesPerNight.toFixed(2)} unserved name-minutes per night.</p>
<p>${legend}</p>
<table><thead><tr><th>role</th><th>kills</th><th>p50</th><th>p95</th><th>max</th><th>over budget</th><th>unserved name-minutes</th><th>minutes with the whole role down</th><th>spot interruptions</th></tr></thead><tbody>${rows}</tbody></table>
${timeline(r)}
<h2>Nights refused, and why</h2>
${refused}
</body>
</html>
`;
}
