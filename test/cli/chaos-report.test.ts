/**
 * The rehearsal's HTML report in a real headless browser (Debian's chromium, installed by
 * scripts/test-deps.sh): it renders with no console message and no uncaught error, and the
 * screenshot has ink where the chart is (decoded with node:zlib). A control page with an error
 * proves the console check can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseConfig } from '../../src/config/index.js';
import { rehearse } from '../../src/cli/commands/rehearse.js';
import { rehearsalHtml } from '../../src/chaos/report.js';
import { decodePng, inkIn } from './png.js';

const run = promisify(execFile);

/** Open a page headless; its console output (stderr lines with CONSOLE) and its screenshot. */
async function openInChromium(html: string): Promise<{ console: string[]; png: Buffer }> {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-chromium-'));
  try {
    const page = join(dir, 'report.html');
    writeFileSync(page, html);
    const shot = join(dir, 'shot.png');
    const { stderr } = await run(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${join(dir, 'profile')}`,
        '--enable-logging=stderr',
        '--v=0',
        '--window-size=1000,900',
        `--screenshot=${shot}`,
        `file://${page}`,
      ],
      { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
    );
    if (process.env['FLEET_KEEP_SCREENSHOT']) writeFileSync(process.env['FLEET_KEEP_SCREENSHOT'], readFileSync(shot));
    return { console: stderr.split('\n').filter((l) => /:CONSOLE[:(]|Uncaught/.test(l)), png: readFileSync(shot) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SPEC = parseConfig(
  `fleet: report
region: us-east-1
dns: {zone: report.example.com, ttl: 60}
hub: hub-01
journal: {bucket: report-journal}
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001, subnet-0bb00000000000002, subnet-0cc00000000000003]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub: {count: 1, type: t3.small}
  web: {count: 4, type: t3.medium, market: spot}
  api: {count: 3, type: m5.large}
chaos:
  schedule: "0 3 * * *"
  opt-out: [hub]
  max-kills-per-run: 2
  kinds: [terminate, spot-interruption]
`,
  'fleet.yaml',
);

test('the rehearsal report renders in headless chromium: no console error, the chart has ink', async () => {
  const r = await rehearse(SPEC, { nights: 4, seed: 3, speed: 300 });
  assert.equal(r.nights.length, 4);
  assert.ok(r.nights.some((n) => n.kills.length > 0), 'the rehearsal killed something');
  const html = rehearsalHtml(r);
  // Self-contained: no script, no stylesheet or image from anywhere, no URL but the SVG namespace.
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\(/i);
  assert.deepEqual([...new Set(html.match(/https?:\/\/[^"' )]+/g) ?? [])], ['http://www.w3.org/2000/svg']);

  const { console, png } = await openInChromium(html);
  assert.deepEqual(console, [], 'no console message, no uncaught error');
  const img = decodePng(png);
  assert.equal(img.width, 1000);
  // The time-to-rebuilt chart is the first thing on the page: 880 px wide from the body margin (24, 16).
  const chart = inkIn(img, 24, 16, 24 + 880, 16 + 200);
  assert.ok(chart.ink / chart.total > 0.1, `the chart area has ink: ${chart.ink} of ${chart.total}`);
  assert.ok(chart.colors.has('#d62728'), 'the budget line (red) is drawn');
  assert.ok(chart.colors.size > 20, `the chart has colours (dots, bands, text): ${chart.colors.size}`);
  // Right of the chart, on the chart's rows, the screenshot is blank: the ink is where the chart is.
  const margin = inkIn(img, 24 + 880 + 8, 16, 1000, 16 + 200);
  assert.equal(margin.ink, 0, 'nothing drawn right of the chart');
});

test('control: the same check catches a page with a console error and an uncaught exception', async () => {
  const { console } = await openInChromium('<!doctype html><html><body><script>console.error("boom"); throw new Error("bad")</script></body></html>');
  assert.ok(console.some((l) => l.includes('"boom"')), console.join('\n'));
  assert.ok(console.some((l) => l.includes('Uncaught Error: bad')), console.join('\n'));
});
