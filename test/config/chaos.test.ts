/** The chaos policy in fleet.yaml (issue 10): every key validated with its line; the EventBridge translation. */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { ConfigError, InputError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/index.js';
import { toEventBridgeCron } from '../../src/config/eventbridge-cron.js';

// Lines: 1 fleet .. 12 roles, 13 hub:, 14 web:, 15 db:, 16 dbx:, 17 chaos:
const BASE = `fleet: demo
dns:
  zone: prod.example.com
hub: hub-01
journal:
  bucket: demo-journal
defaults:
  image: ami-12345678
  subnets: [subnet-12345678]
  security-groups: [sg-12345678]
  market: on-demand
roles:
  hub: {count: 1, type: t3.small}
  web: {count: 3, type: t3.small}
  db: {count: 2, type: t3.small}
  dbx: {count: 2, type: t3.small}
chaos:
`;

function problemsOf(chaos: string): string[] {
  try {
    parseConfig(BASE + chaos, 'fleet.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
    return e.problems.map((p) => `${p.line}:${p.column} ${p.path ? p.path + ': ' : ''}${p.message}`);
  }
  return [];
}

const cases: Array<{ name: string; chaos: string; problems: string[] }> = [
  { name: 'a full valid policy', chaos: '  timezone: Europe/Paris\n  opt-out: [hub, db*]\n  blackout:\n    - days: [sat-sun]\n    - {hours: "22:00-06:00"}\n    - dates: ["2026-12-24", "2026-12-20..2027-01-02"]\n  rebuild-budget: 20m\n  kinds: [terminate, spot-interruption]\n', problems: [] },
  { name: 'unknown time zone', chaos: '  timezone: Europe/Pariss\n', problems: ['18:13 chaos.timezone: "Europe/Pariss" is not an IANA time zone such as Europe/Paris, America/New_York or UTC'] },
  { name: 'opt-out: unknown role', chaos: '  opt-out: [hbu]\n', problems: ['18:13 chaos.opt-out[0]: opt-out names "hbu", which is not a declared role (did you mean \'hub\'?)'] },
  { name: 'opt-out: a wildcard that matches nothing', chaos: '  opt-out: [cache*]\n', problems: ['18:13 chaos.opt-out[0]: opt-out pattern "cache*" matches no declared role; declared: hub, web, db, dbx'] },
  { name: 'opt-out: not a pattern', chaos: '  opt-out: [Web]\n', problems: ['18:13 chaos.opt-out[0]: "Web" is not a role name or a wildcard (lowercase letters, digits, * and ?)'] },
  {
    name: 'min-converged 0 on a role chaos may kill: the role could go to zero',
    chaos: '  min-converged: {web: 0}\n',
    problems: ['18:24 chaos.min-converged.web: min-converged 0 lets chaos kill the last converged name of role web (count 3): the role could go to zero; set at least 1, or opt web out'],
  },
  {
    name: 'min-converged-default 0: every role without its own minimum could go to zero',
    chaos: '  opt-out: [hub, db*]\n  min-converged-default: 0\n',
    problems: ['19:26 chaos.min-converged-default: min-converged 0 (the default) lets chaos kill the last converged name of role web (count 3): the role could go to zero; set at least 1, or opt web out'],
  },
  { name: 'min-converged 0 is fine on an opted-out role', chaos: '  opt-out: [web]\n  min-converged: {web: 0}\n', problems: [] },
  { name: 'min-converged 0 is fine when nothing may be killed', chaos: '  max-kills-per-run: 0\n  min-converged: {web: 0}\n', problems: [] },
  {
    name: 'a cron EventBridge cannot express: both day fields',
    chaos: '  schedule: "0 3 1 * mon"\n',
    problems: ['18:13 chaos.schedule: the nightly schedule cannot run on EventBridge Scheduler: "0 3 1 * mon" restricts both day-of-month and day-of-week, which cron reads as either one (OR); EventBridge Scheduler needs "?" in one of them and cannot express that: keep one day field and make the other "*"'],
  },
  { name: 'blackout: bad day', chaos: '  blackout:\n    - days: [sat-sunday]\n', problems: ['19:14 chaos.blackout[0].days[0]: "sat-sunday" is not a day (sun..sat) or a range of days such as mon-fri'] },
  { name: 'blackout: bad hours', chaos: '  blackout:\n    - hours: "9-17"\n', problems: ['19:14 chaos.blackout[0].hours: "9-17" is not a time range HH:MM-HH:MM such as "09:00-17:00" (24-hour clock; may wrap past midnight: "22:00-06:00")'] },
  { name: 'blackout: bad date', chaos: '  blackout:\n    - dates: ["2026-02-30"]\n', problems: ['19:15 chaos.blackout[0].dates[0]: "2026-02-30" is not a date YYYY-MM-DD or a range of dates YYYY-MM-DD..YYYY-MM-DD'] },
  { name: 'blackout: backwards dates', chaos: '  blackout:\n    - dates: ["2027-01-02..2026-12-24"]\n', problems: ['19:15 chaos.blackout[0].dates[0]: date range "2027-01-02..2026-12-24" runs backwards'] },
  { name: 'blackout: an empty window', chaos: '  blackout:\n    - {}\n', problems: ['19:7 chaos.blackout[0]: a blackout window needs days, hours or dates'] },
  { name: 'blackout: unknown key', chaos: '  blackout:\n    - {weekdays: [mon]}\n', problems: ['19:7 chaos.blackout[0]: a blackout window needs days, hours or dates', "19:8 chaos.blackout[0].weekdays: unknown key 'weekdays'; expected one of: days, hours, dates"] },
  { name: 'rebuild-budget out of range', chaos: '  rebuild-budget: 5s\n', problems: ['18:19 chaos.rebuild-budget: duration "5s" is out of range 1m to 1d'] },
  { name: 'unknown kind', chaos: '  kinds: [reboot]\n', problems: ['18:11 chaos.kinds[0]: expected one of terminate, spot-interruption, got "reboot"'] },
  { name: 'no kinds', chaos: '  kinds: []\n', problems: ['18:10 chaos.kinds: expected at least 1 kill kind, got none'] },
];

for (const c of cases) {
  test(`chaos policy: ${c.name}`, () => {
    assert.deepEqual(problemsOf(c.chaos), c.problems);
  });
}

test('the policy reaches the spec: windows parsed, patterns kept, kinds deduplicated', () => {
  const spec = parseConfig(BASE + '  timezone: America/New_York\n  opt-out: [db*]\n  blackout:\n    - {days: [fri-mon], hours: "22:00-06:00"}\n  kinds: [spot-interruption, terminate, terminate]\n', 'fleet.yaml');
  assert.equal(spec.chaos.timezone, 'America/New_York');
  assert.deepEqual(spec.chaos.optOutRoles, ['db*']);
  assert.deepEqual(spec.chaos.blackouts, [{ days: [0, 1, 5, 6], hours: { from: 1320, to: 360 }, text: 'days fri-mon hours 22:00-06:00' }]);
  assert.deepEqual(spec.chaos.kinds, ['spot-interruption', 'terminate']);
  assert.equal(spec.chaos.rebuildBudgetSeconds, 900);
});

const crons: Array<[string, string]> = [
  ['0 3 * * 1-5', 'cron(0 3 ? * MON-FRI *)'],
  ['0 3 * * *', 'cron(0 3 * * ? *)'],
  ['30 2 1,15 * *', 'cron(30 2 1,15 * ? *)'],
  ['*/15 1-5 * jan,jul sun', 'cron(0,15,30,45 1-5 ? 1,7 SUN *)'],
  ['0 3 * * 0,6', 'cron(0 3 ? * SUN,SAT *)'],
  ['0 3 * * 7', 'cron(0 3 ? * SUN *)'],
  ['0 3 1-31 * mon', 'cron(0 3 * * ? *)'], // cron ORs: day-of-month covers every day
  ['0 0-23 * * 0-6', 'cron(0 * * * ? *)'],
];
for (const [five, six] of crons) {
  test(`EventBridge cron: ${five} -> ${six}`, () => {
    assert.deepEqual(toEventBridgeCron(five, 'Europe/Paris'), { expression: six, timezone: 'Europe/Paris' });
  });
}

test('EventBridge cron: what it cannot take is an InputError (exit 2)', () => {
  assert.throws(() => toEventBridgeCron('0 3 13 * fri', 'UTC'), (e: unknown) => e instanceof InputError && e.exitCode === 2 && /both day-of-month and day-of-week/.test(e.message));
  assert.throws(() => toEventBridgeCron('0 3 * * *', 'Mars/Olympus'), (e: unknown) => e instanceof InputError && /not an IANA time zone/.test(e.message));
  assert.throws(() => toEventBridgeCron('0 3 * *', 'UTC'), (e: unknown) => e instanceof InputError && /4 fields/.test(e.message));
});
