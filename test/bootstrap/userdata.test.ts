import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BOOTSTRAP_MARKER, CONVERGED_TAG } from '../../src/bootstrap/marker.js';
import {
  DATA_BEGIN,
  DATA_END,
  DATA_KEYS,
  DEFAULT_CFENGINE_RPM_REPO,
  SCRIPT_BODY,
  USER_DATA_MAX_BYTES,
  renderAugments,
  renderUserData,
  shellQuote,
  userDataBase64,
  userDataValues,
  type UserDataInput,
} from '../../src/bootstrap/userdata.js';
import { InputError } from '../../src/errors.js';
import type { FleetSpec, RoleSpec } from '../../src/model.js';
import { cfengineClasses, conventionOf, parseName } from '../../src/naming.js';
import { matchSnapshot } from './snapshot.js';

// ---- fixtures -------------------------------------------------------------------------

function role(name: string, extra: Partial<RoleSpec> = {}): RoleSpec {
  return { name, count: 4, instanceType: 't3.medium', alternativeTypes: [], market: 'on-demand', onDemandFallback: false, ...extra };
}

function fleetSpec(over: Partial<FleetSpec> = {}): FleetSpec {
  return {
    fleet: 'demo',
    region: 'us-east-1',
    dns: { zone: 'prod.example.com', ttl: 60 },
    naming: { indexDigits: 2 },
    hub: 'hub-01',
    policyS3: { bucket: 'demo-fleet-policy', prefix: 'masterfiles' },
    journal: { bucket: 'demo-fleet-journal', prefix: 'journal' },
    defaults: { image: { id: 'ami-0123456789abcdef0' }, subnets: ['subnet-0aa00000000000001'], securityGroups: ['sg-0123456789abcdef0'], market: 'on-demand' },
    roles: [
      role('hub', { count: 1, instanceType: 't3.small' }),
      role('web', { market: 'spot', alternativeTypes: ['t3a.medium', 'm5.large'], onDemandFallback: true }),
      role('ci', { count: 1, instanceType: 'c5.xlarge', stateS3: { bucket: 'demo-fleet-state', prefix: 'ci' } }),
    ],
    coordination: {},
    reconcile: { orphanGraceMs: 900_000, convergeTimeoutMs: 900_000, concurrency: 20, intervalMs: 60_000 },
    chaos: {
      schedule: '0 3 * * 1-5',
      optOutRoles: ['hub'],
      maxKillsPerRun: 1,
      maxKillsPerRole: 1,
      minConvergedPerRole: {},
      defaultMinConverged: 1,
      minSecondsBetweenKills: 86400,
      leashed: true,
      timezone: 'UTC',
      blackouts: [],
      rebuildBudgetSeconds: 900,
      kinds: ['terminate'],
    },
    ...over,
  };
}

const spec = fleetSpec();
const input = (name: string, over: Partial<UserDataInput> = {}): UserDataInput => ({ spec, name, generation: 1, ...over });

/** A spec whose `ci` role keeps its state under `prefix` (and `bucket`). */
function stateSpec(bucket: string, prefix: string, over: Partial<FleetSpec> = {}): FleetSpec {
  return fleetSpec({ roles: [role('hub', { count: 1 }), role('ci', { count: 1, stateS3: { bucket, prefix } })], ...over });
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

// ---- rendering --------------------------------------------------------------------------

test('snapshots: a spot web node, the hub, a role with state.s3', () => {
  matchSnapshot(renderUserData(input('web-03', { generation: 2 })), 'web-03.sh');
  matchSnapshot(renderUserData(input('hub-01')), 'hub-01.sh');
  matchSnapshot(renderUserData(input('ci-01', { generation: 7 })), 'ci-01.sh');
});

test('the marker is the second line, after the shebang; set -eu comes before any data', () => {
  const lines = renderUserData(input('web-03')).split('\n');
  assert.equal(lines[0], '#!/bin/sh');
  assert.equal(lines[1], BOOTSTRAP_MARKER);
  assert.ok(lines.indexOf('set -eu') < lines.indexOf(DATA_BEGIN));
});

test('userDataBase64 is the base64 of the script', () => {
  const i = input('web-03');
  assert.equal(Buffer.from(userDataBase64(i), 'base64').toString('utf8'), renderUserData(i));
});

test('pure: the same input renders the same bytes, and the input is not touched', () => {
  const deepFreeze = <T>(o: T): T => {
    if (o && typeof o === 'object') {
      for (const v of Object.values(o)) deepFreeze(v);
      Object.freeze(o);
    }
    return o;
  };
  const frozen = deepFreeze(input('ci-01', { spec: fleetSpec() }));
  const a = renderUserData(frozen);
  const b = renderUserData(input('ci-01', { spec: fleetSpec() }));
  assert.equal(a, b);
  assert.equal(renderUserData(frozen), a);
});

test('everything after the data block is the same constant for every name', () => {
  for (const name of ['web-03', 'hub-01', 'ci-01', 'web-04.prod.example.com']) {
    const s = renderUserData(input(name));
    const end = s.indexOf(`\n${DATA_END}\n`);
    assert.ok(end > 0);
    assert.equal(s.slice(end + DATA_END.length + 2), SCRIPT_BODY);
  }
  assert.ok(SCRIPT_BODY.includes(`"Key=${CONVERGED_TAG},Value=$now"`), 'the body tags the instance with CONVERGED_TAG');
  // No credentials of any kind: the instance profile provides them at run time.
  assert.doesNotMatch(renderUserData(input('ci-01')), /AKIA|ASIA|aws_access_key|aws_secret|SECRET_ACCESS|SESSION_TOKEN|password/i);
});

test('the data block holds exactly the validated values, single-quoted, in DATA_KEYS order', () => {
  const s = renderUserData(input('ci-01'));
  const block = s.slice(s.indexOf(DATA_BEGIN) + DATA_BEGIN.length + 1, s.indexOf(DATA_END) - 1).split('\n');
  const v = userDataValues(input('ci-01'));
  assert.deepEqual(block, DATA_KEYS.map((k) => `${k}=${shellQuote(v[k])}`));
  assert.equal(v.state_s3, 's3://demo-fleet-state/ci/ci-01/');
  assert.equal(v.hub, 'hub-01.prod.example.com');
  assert.equal(v.is_hub, '0');
  assert.equal(userDataValues(input('hub-01')).is_hub, '1');
  // The masterfiles location reaches the hub only; without `policy:` the hub has none either.
  assert.equal(v.policy_s3, '');
  assert.equal(userDataValues(input('web-03')).policy_s3, '');
  assert.equal(userDataValues(input('hub-01')).policy_s3, 's3://demo-fleet-policy/masterfiles/');
  assert.equal(userDataValues(input('hub-01', { spec: fleetSpec({ policyS3: { bucket: 'demo-fleet-policy', prefix: '' } }) })).policy_s3, 's3://demo-fleet-policy/');
  const noPolicy = fleetSpec();
  delete noPolicy.policyS3;
  assert.equal(userDataValues(input('hub-01', { spec: noPolicy })).policy_s3, '');
  assert.equal(v.rpm_repo, DEFAULT_CFENGINE_RPM_REPO.baseUrl);
});

test('the augments classes are the ones naming.ts says the bootstrap defines', () => {
  const i = input('web-03', { spec: fleetSpec({ dns: { zone: 'eu-prod.example.com', ttl: 60 } }) });
  const a = renderAugments(i);
  const classes = Object.keys(a.classes).map((c) => c.replace(/^default:/, ''));
  assert.deepEqual(classes, ['role_web', 'env_eu_prod', 'index_03']);
  assert.deepEqual(cfengineClasses(parseName('web-03', conventionOf(i.spec))).slice(-3), classes);
  assert.ok(Object.values(a.classes).every((v) => v.length === 1 && v[0] === 'any::'));
  assert.equal(a.vars['fleet_env'], 'eu-prod');
  assert.equal(a.vars['fleet_hub'], 'hub-01.eu-prod.example.com');
  assert.equal(a.vars['fleet_state_s3'], undefined);
});

test('shellQuote makes one literal word of anything', () => {
  for (const s of ['', "it's", "''", "a'b'c", '$(id)', '`id`', '"x"', '\\', 'a b\tc', '*', '!']) {
    const r = spawnSync('sh', ['-c', `printf '%s' ${shellQuote(s)}`], { encoding: 'utf8' });
    assert.equal(r.stdout, s);
  }
});

// ---- validation: hostile values never reach the script ----------------------------------

test('hostile values are rejected before rendering, each with its reason', () => {
  const nameFor = parseName('web-03', conventionOf(spec));
  const cases: Array<[string, UserDataInput, RegExp]> = [
    ['name $(id)', input('web-03$(id)'), /name: invalid name .*contains "\$"/],
    ['name backtick', input('web-03`id`'), /name: invalid name .*contains "`"/],
    ['name quote', input("web-03'"), /name: invalid name .*contains "'"/],
    ['name newline', input('web-03\nid'), /name: invalid name .*whitespace/],
    ['name ;', input('web-03;id'), /name: invalid name .*contains ";"/],
    ['name of an undeclared role', input('db-01'), /role "db", which the spec does not declare/],
    ['FleetName that lies', input('x', { name: { ...nameFor, fqdn: 'web-03.evil.example.com' } }), /does not match/],
    ['hub $(id)', input('web-03', { spec: fleetSpec({ hub: 'hub-01$(id)' }) }), /hub: invalid name .*"\$"/],
    ['hub backtick', input('web-03', { spec: fleetSpec({ hub: '`reboot`' }) }), /hub: invalid name/],
    ['hub quote', input('web-03', { spec: fleetSpec({ hub: "hub-01'" }) }), /hub: invalid name .*"'"/],
    ['hub newline', input('web-03', { spec: fleetSpec({ hub: 'hub-01\n' }) }), /hub: invalid name .*whitespace/],
    ['hub elsewhere', input('web-03', { spec: fleetSpec({ hub: 'hub-01.evil.com' }) }), /not in zone/],
    ['zone $(id)', input('web-03', { spec: fleetSpec({ dns: { zone: 'prod.example.com$(id)', ttl: 60 } }) }), /dns\.zone .*label/],
    ['zone quote', input('web-03', { spec: fleetSpec({ dns: { zone: "pr'od.example.com", ttl: 60 } }) }), /dns\.zone .*label/],
    ['zone newline', input('web-03', { spec: fleetSpec({ dns: { zone: 'prod.example.com\n', ttl: 60 } }) }), /dns\.zone .*label/],
    ['zone one label', input('web-03', { spec: fleetSpec({ dns: { zone: 'prod', ttl: 60 } }) }), /dns\.zone .*two labels/],
    ['fleet $(id)', input('web-03', { spec: fleetSpec({ fleet: 'demo$(id)' }) }), /fleet .*is not a fleet name/],
    ['fleet quote', input('web-03', { spec: fleetSpec({ fleet: "de'mo" }) }), /fleet .*is not a fleet name/],
    ['bucket $(id)', input('ci-01', { spec: stateSpec('b$(id)x', 'ci') }), /state\.s3 bucket .*may hold only/],
    ['bucket backtick', input('ci-01', { spec: stateSpec('b`id`x', 'ci') }), /state\.s3 bucket .*may hold only/],
    ['bucket quote', input('ci-01', { spec: stateSpec("bu'ck", 'ci') }), /state\.s3 bucket .*may hold only/],
    ['bucket newline', input('ci-01', { spec: stateSpec('bucket\n', 'ci') }), /state\.s3 bucket .*may hold only/],
    ['prefix $(id)', input('ci-01', { spec: stateSpec('demo-state', 'ci/$(id)') }), /state\.s3 prefix .*contains "\$"/],
    ['prefix backtick', input('ci-01', { spec: stateSpec('demo-state', 'ci/`id`') }), /state\.s3 prefix .*contains "`"/],
    ['prefix double quote', input('ci-01', { spec: stateSpec('demo-state', 'ci/"x"') }), /state\.s3 prefix .*contains/],
    ['prefix newline', input('ci-01', { spec: stateSpec('demo-state', 'ci\nrm') }), /state\.s3 prefix .*contains/],
    ['prefix space', input('ci-01', { spec: stateSpec('demo-state', 'ci x') }), /state\.s3 prefix .*contains " "/],
    ['prefix backslash', input('ci-01', { spec: stateSpec('demo-state', 'ci\\x') }), /state\.s3 prefix .*contains/],
    ['prefix leading /', input('ci-01', { spec: stateSpec('demo-state', '/ci') }), /state\.s3 prefix .*must not start with/],
    ['prefix trailing /', input('ci-01', { spec: stateSpec('demo-state', 'ci/') }), /state\.s3 prefix .*without a leading or trailing/],
    ['prefix ..', input('ci-01', { spec: stateSpec('demo-state', 'ci/../x') }), /state\.s3 prefix .*"\.\."/],
    ['policy bucket $(id)', input('hub-01', { spec: fleetSpec({ policyS3: { bucket: 'b$(id)x', prefix: 'm' } }) }), /policy bucket .*may hold only/],
    ['policy prefix backtick', input('hub-01', { spec: fleetSpec({ policyS3: { bucket: 'demo-policy', prefix: 'm/`id`' } }) }), /policy prefix .*contains "`"/],
    ['policy prefix quote', input('hub-01', { spec: fleetSpec({ policyS3: { bucket: 'demo-policy', prefix: "m'; rm -rf /" } }) }), /policy prefix .*contains/],
    ['policy prefix ..', input('hub-01', { spec: fleetSpec({ policyS3: { bucket: 'demo-policy', prefix: 'm/../x' } }) }), /policy prefix .*"\.\."/],
    ['generation -1', input('web-03', { generation: -1 }), /generation -1 must be a whole number/],
    ['generation 1.5', input('web-03', { generation: 1.5 }), /generation 1\.5 must be a whole number/],
    ['rpm repo $(id)', input('web-03', { cfengineRpmRepo: { baseUrl: 'https://mirror.example.com/$(id)', gpgKeyUrl: 'https://mirror.example.com/k' } }), /cfengineRpmRepo\.baseUrl .*not a plain https URL/],
    ['rpm key quote', input('web-03', { cfengineRpmRepo: { baseUrl: 'https://mirror.example.com/yum', gpgKeyUrl: "https://mirror.example.com/'k" } }), /cfengineRpmRepo\.gpgKeyUrl .*not a plain https URL/],
    ['rpm repo http', input('web-03', { cfengineRpmRepo: { baseUrl: 'http://mirror.example.com/yum', gpgKeyUrl: 'https://mirror.example.com/k' } }), /not a plain https URL/],
    ['rpm repo too long', input('web-03', { cfengineRpmRepo: { baseUrl: `https://m.example.com/${'y'.repeat(300)}`, gpgKeyUrl: 'https://m.example.com/k' } }), /at most 256/],
  ];
  for (const [what, i, reason] of cases) {
    assert.throws(
      () => renderUserData(i),
      (e: unknown) => {
        assert.ok(e instanceof InputError, `${what}: expected an InputError, got ${String(e)}`);
        assert.equal(e.exitCode, 2);
        assert.match(e.message, reason, what);
        return true;
      },
      what,
    );
  }
});

// ---- round trip of legal values through sh ------------------------------------------------

function printVars(script: string): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-ud-vars-'));
  try {
    const file = join(dir, 'user-data.sh');
    writeFileSync(file, script);
    const r = spawnSync('sh', [file], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', FLEET_PRINT_VARS: '1' } });
    assert.equal(r.status, 0, r.stderr);
    const out: Record<string, string> = {};
    for (const line of r.stdout.split('\n').slice(0, -1)) {
      const eq = line.indexOf('=');
      out[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The longest legal values: 32-character roles, 6-digit indexes, a zone filling the FQDN to 253, a 512-character prefix of quotes. */
function longestInput(): UserDataInput {
  const roleName = 'r'.repeat(31) + 'x';
  const hubRole = 'h'.repeat(32);
  const labels = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(253 - 40 - 3 * 64)];
  const zone = labels.join('.');
  const prefix = Array.from({ length: 8 }, () => "'".repeat(63)).join('/');
  const s = fleetSpec({
    fleet: 'f'.repeat(32),
    dns: { zone, ttl: 60 },
    naming: { indexDigits: 6 },
    hub: `${hubRole}-999999`,
    roles: [role(hubRole), role(roleName, { stateS3: { bucket: 'b'.repeat(63), prefix } })],
  });
  return {
    spec: s,
    name: `${roleName}-999999`,
    generation: Number.MAX_SAFE_INTEGER,
    cfengineRpmRepo: { baseUrl: `https://${'m'.repeat(60)}.example.com/${'p'.repeat(150)}/yum`, gpgKeyUrl: `https://${'m'.repeat(60)}.example.com/${'k'.repeat(150)}/gpg.key` },
  };
}

test('legal values come back byte for byte from the rendered script run by sh', () => {
  const cases: UserDataInput[] = [
    input('web-03'),
    input('hub-01'),
    input('web-04.prod.example.com.', { generation: 0 }),
    input('ci-01', { spec: stateSpec('demo.fleet-state.1', "ci/it's/(gen)*!/a-b_c.d"), generation: 12 }),
    input('ci-01', { spec: stateSpec('abc', '') }),
    input('ci-01', { spec: stateSpec('abc', "'") }),
    input('ci-01', { spec: stateSpec('abc', "''x''/'!*") }),
    input('web-1234', { spec: fleetSpec({ dns: { zone: 'eu-west-1.prod-2.example.co.uk', ttl: 60 }, naming: { indexDigits: 4 }, hub: 'hub-0001' }) }),
    input('web-03', { cfengineRpmRepo: { baseUrl: 'https://mirror.example.com:8443/cfengine/pub/yum/', gpgKeyUrl: 'https://mirror.example.com:8443/cfengine/pub/gpg.key' } }),
    longestInput(),
  ];
  for (const i of cases) {
    const expected = userDataValues(i);
    const got = printVars(renderUserData(i));
    assert.deepEqual(Object.keys(got), [...DATA_KEYS]);
    for (const k of DATA_KEYS) assert.equal(got[k], expected[k], `${k} of ${String(typeof i.name === 'string' ? i.name : i.name.name)}`);
  }
});

test('the longest legal values stay under the 16 KB user-data limit', () => {
  const s = renderUserData(longestInput());
  const bytes = Buffer.byteLength(s, 'utf8');
  assert.ok(bytes <= USER_DATA_MAX_BYTES, `${bytes} bytes`);
  assert.ok(/^[\x09\x0a\x20-\x7e]*$/.test(s), 'plain ASCII');
  // The margin is what the script body may still grow by.
  assert.ok(USER_DATA_MAX_BYTES - bytes > 1024, `only ${USER_DATA_MAX_BYTES - bytes} bytes to spare`);
});

// ---- static checks ----------------------------------------------------------------------

function need(cmd: string, pkg: string): void {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`]);
  if (r.status !== 0) assert.fail(`${cmd} is not installed: apt-get install -y ${pkg} (scripts/test-deps.sh)`);
}

test('sh -n and shellcheck -s sh accept every rendered script', () => {
  need('shellcheck', 'shellcheck');
  const dir = mkdtempSync(join(tmpdir(), 'fleet-ud-lint-'));
  try {
    const scripts: Array<[string, string]> = [
      ['web-03', renderUserData(input('web-03'))],
      ['hub-01', renderUserData(input('hub-01'))],
      ['ci-01', renderUserData(input('ci-01'))],
      ['longest', renderUserData(longestInput())],
    ];
    for (const [n, script] of scripts) {
      const file = join(dir, `${n}.sh`);
      writeFileSync(file, script);
      const syn = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
      assert.equal(syn.status, 0, `sh -n ${n}: ${syn.stderr}`);
      const sc = spawnSync('shellcheck', ['-s', 'sh', file], { encoding: 'utf8' });
      assert.equal(sc.status, 0, `shellcheck ${n}:\n${sc.stdout}${sc.stderr}`);
    }
    // The state saver the script installs is a script too.
    const saver = /cat >"\$R\/usr\/local\/sbin\/fleet-state-save" <<'EOF'\n([\s\S]*?)\nEOF\n/.exec(SCRIPT_BODY)?.[1];
    assert.ok(saver);
    writeFileSync(join(dir, 'saver.sh'), `${saver}\n`);
    const sc = spawnSync('shellcheck', ['-s', 'sh', join(dir, 'saver.sh')], { encoding: 'utf8' });
    assert.equal(sc.status, 0, `shellcheck saver:\n${sc.stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- behaviour, with stub commands ----------------------------------------------------------

const IMDS = 'http://imds.test:1338';
const TOKEN = 'TOKEN-abc';

/** Every stub logs its argv (tab-separated) to $STUB_LOG, then does what the case below says. */
const LOGGER = `#!/bin/sh
{ printf '%s' "\${0##*/}"; for a in "$@"; do printf '\\t%s' "$a"; done; printf '\\n'; } >>"$STUB_LOG"
`;

const STUBS: Record<string, string> = {
  hostname: '',
  hostnamectl: '',
  systemctl: '',
  snap: '',
  rpm: '',
  dnf: '',
  'apt-get': `c=$(cat "$STUB_STATE/apt" 2>/dev/null || echo 0); echo $((c + 1)) >"$STUB_STATE/apt"
printf 'apt-env\\t%s\\n' "\${DEBIAN_FRONTEND:-}" >>"$STUB_LOG"
if [ "$c" -lt "\${STUB_APT_FAILS:-0}" ]; then echo "E: Could not get lock" >&2; exit 100; fi
`,
  // IMDSv2 only: a token for a PUT with the TTL header; metadata only with that token.
  curl: `method=GET url= hdrs=
while [ $# -gt 0 ]; do
  case $1 in -X) method=$2; shift ;; -H) hdrs="$hdrs|$2"; shift ;; http*) url=$1 ;; esac
  shift
done
case $url in
  "$STUB_IMDS/latest/api/token")
    [ "$method" = PUT ] || exit 22
    case $hdrs in *"|X-aws-ec2-metadata-token-ttl-seconds: 21600"*) printf '%s' "$STUB_TOKEN"; exit 0 ;; esac
    exit 22 ;;
  "$STUB_IMDS/latest/meta-data/"*)
    case $hdrs in *"|X-aws-ec2-metadata-token: $STUB_TOKEN"*) ;; *) exit 22 ;; esac
    case $url in
      */instance-id) printf 'i-0abc123' ;;
      */placement/region) printf 'us-east-1' ;;
      */local-ipv4) printf '10.0.0.5' ;;
      *) exit 22 ;;
    esac ;;
  *) exit 7 ;;
esac
`,
  aws: `printf 'aws-env\\t%s\\t%s\\n' "\${AWS_DEFAULT_REGION:-}" "\${AWS_EC2_METADATA_SERVICE_ENDPOINT:-}" >>"$STUB_LOG"
while [ $# -gt 0 ]; do
  case $1 in
    sync) case $3 in s3://*) mkdir -p "$4" && echo restored >"$4/restored.conf" ;; esac; exit 0 ;;
  esac
  shift
done
`,
  // Bootstrap: fails STUB_BOOTSTRAP_FAILS times, and records what existed when it ran.
  // Main runs (-K -I): the first STUB_FAIL_RUNS leave promises not kept in promise_summary.log.
  'cf-agent': `wd=$FLEET_ROOT/var/lib/cfengine3
if [ "$1" = --bootstrap ]; then
  c=$(cat "$STUB_STATE/bootstraps" 2>/dev/null || echo 0); echo $((c + 1)) >"$STUB_STATE/bootstraps"
  cp "$wd/data/host_specific.json" "$STUB_STATE/augments-at-bootstrap.json" 2>/dev/null || :
  ls "$FLEET_ROOT/var/lib/fleet/state" >"$STUB_STATE/state-at-bootstrap" 2>/dev/null || :
  if [ "$c" -lt "\${STUB_BOOTSTRAP_FAILS:-0}" ]; then echo "   error: Bootstrapping failed" >&2; exit 1; fi
  echo "  notice: Bootstrap to '$2' completed successfully!"
  exit 0
fi
if [ "$1" = -K ] && [ "$2" = -f ]; then exit 0; fi
n=$(cat "$STUB_STATE/runs" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" >"$STUB_STATE/runs"
nk=0.00
if [ "$n" -le "\${STUB_FAIL_RUNS:-0}" ]; then nk=33.33; echo "   error: Finished command related to promiser '/bin/false' -- an error occurred, returned 1"; fi
echo "R: run $n"
printf '1,2: Outcome of version stub (agent-0): Promises observed to be kept 66.67%%, Promises repaired 0.00%%, Promises not repaired %s%%\\n' "$nk" >>"$wd/promise_summary.log"
`,
};

interface Run {
  status: number | null;
  stderr: string;
  root: string;
  state: string;
  /** Every stub call, in order: [command, ...argv]. */
  calls: string[][];
}

interface RunOptions {
  env?: Record<string, string>;
  /** Files to create under the root before the run. */
  files?: Record<string, string>;
  install?: boolean;
}

const dirs: string[] = [];
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function runBootstrap(script: string, opts: RunOptions = {}): Run {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-ud-run-'));
  dirs.push(dir);
  const root = join(dir, 'root');
  const bin = join(dir, 'bin');
  const state = join(dir, 'stub');
  for (const d of [bin, state, join(root, 'etc', 'cloud', 'cloud.cfg.d'), join(root, 'dev'), join(root, 'var', 'lib', 'cfengine3', 'inputs')]) {
    mkdirSync(d, { recursive: true });
  }
  for (const [name, body] of Object.entries(STUBS)) {
    writeFileSync(join(bin, name), LOGGER + body);
    chmodSync(join(bin, name), 0o755);
  }
  writeFileSync(join(root, 'etc', 'hosts'), '127.0.0.1\tlocalhost\n10.9.9.9\tweb-03.prod.example.com web-03\n::1\tip6-localhost\n');
  writeFileSync(join(root, 'dev', 'console'), '');
  writeFileSync(join(root, 'var', 'lib', 'cfengine3', 'inputs', 'update.cf'), '# stub\n');
  for (const [p, content] of Object.entries(opts.files ?? {})) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), content);
  }
  const file = join(dir, 'user-data.sh');
  writeFileSync(file, script);
  const log = join(state, 'calls.log');
  writeFileSync(log, '');
  const env: Record<string, string> = {
    PATH: `${bin}:/usr/bin:/bin`,
    HOME: root,
    LC_ALL: 'C',
    FLEET_ROOT: root,
    FLEET_IMDS_ENDPOINT: IMDS,
    FLEET_RETRY_PAUSE: '0',
    STUB_LOG: log,
    STUB_STATE: state,
    STUB_IMDS: IMDS,
    STUB_TOKEN: TOKEN,
    ...(opts.install ? {} : { FLEET_SKIP_INSTALL: '1' }),
    ...opts.env,
  };
  const r = spawnSync('sh', [file], { encoding: 'utf8', env, timeout: 60_000 });
  const calls = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  return { status: r.status, stderr: r.stderr, root, state, calls };
}

const callsOf = (r: Run, cmd: string): string[][] => r.calls.filter((c) => c[0] === cmd).map((c) => c.slice(1));
const indexOfCall = (r: Run, pred: (c: string[]) => boolean): number => r.calls.findIndex(pred);
const lastIndexOfCall = (r: Run, pred: (c: string[]) => boolean): number => {
  for (let i = r.calls.length - 1; i >= 0; i--) if (pred(r.calls[i]!)) return i;
  return -1;
};
const isMainRun = (c: string[]): boolean => c[0] === 'cf-agent' && c[1] === '-K' && c[2] === '-I';
const isTag = (c: string[]): boolean => c[0] === 'aws' && c.includes('create-tags');

function assertImdsV2(r: Run): void {
  const curls = callsOf(r, 'curl');
  assert.ok(curls.length > 0);
  for (const c of curls) {
    const url = c[c.length - 1]!;
    assert.ok(url.startsWith(`${IMDS}/latest/`), url);
    if (url.endsWith('/latest/api/token')) {
      assert.deepEqual(c.slice(c.indexOf('-X'), c.indexOf('-X') + 2), ['-X', 'PUT']);
      assert.ok(c.includes('X-aws-ec2-metadata-token-ttl-seconds: 21600'));
    } else {
      assert.ok(c.includes(`X-aws-ec2-metadata-token: ${TOKEN}`), `no IMDSv2 token on ${url}`);
    }
  }
}

test('behaviour: hostname, hosts, augments, bootstrap to the hub, three runs, then one tag', () => {
  const i = input('web-03', { generation: 2 });
  const r = runBootstrap(renderUserData(i), { env: { STUB_FAIL_RUNS: '2' } });
  assert.equal(r.status, 0, r.stderr);

  // Hostname: the short name, by `hostname` (sandbox mode never calls hostnamectl).
  assert.deepEqual(callsOf(r, 'hostname'), [['web-03']]);
  assert.deepEqual(callsOf(r, 'hostnamectl'), []);
  assert.equal(readFileSync(join(r.root, 'etc', 'hostname'), 'utf8'), 'web-03\n');
  // /etc/hosts: the old line for the name replaced by the private IP from IMDS; others kept.
  assert.equal(
    readFileSync(join(r.root, 'etc', 'hosts'), 'utf8'),
    '127.0.0.1\tlocalhost\n::1\tip6-localhost\n10.0.0.5\tweb-03.prod.example.com web-03\n',
  );
  assert.equal(readFileSync(join(r.root, 'etc', 'cloud', 'cloud.cfg.d', '99-fleet-hostname.cfg'), 'utf8'), 'preserve_hostname: true\nmanage_etc_hosts: false\n');

  // Augments: valid JSON, what renderAugments says, private, and in place before the bootstrap.
  const augPath = join(r.root, 'var', 'lib', 'cfengine3', 'data', 'host_specific.json');
  const aug = JSON.parse(readFileSync(augPath, 'utf8')) as unknown;
  assert.deepEqual(aug, renderAugments(i));
  assert.deepEqual(aug, {
    classes: { 'default:role_web': ['any::'], 'default:env_prod': ['any::'], 'default:index_03': ['any::'] },
    vars: {
      fleet_fleet: 'demo',
      fleet_name: 'web-03',
      fleet_role: 'web',
      fleet_env: 'prod',
      fleet_index: '03',
      fleet_fqdn: 'web-03.prod.example.com',
      fleet_hub: 'hub-01.prod.example.com',
      fleet_generation: '2',
    },
  });
  assert.equal(statSync(augPath).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(readFileSync(join(r.state, 'augments-at-bootstrap.json'), 'utf8')), aug);

  // Bootstrap once to the hub's FQDN; three main runs (each after a policy update); one tag.
  const agent = callsOf(r, 'cf-agent');
  assert.deepEqual(agent.filter((c) => c[0] === '--bootstrap'), [['--bootstrap', 'hub-01.prod.example.com']]);
  assert.equal(r.calls.filter(isMainRun).length, 3);
  assert.equal(agent.filter((c) => c[1] === '-f').length, 3);
  const tags = r.calls.filter(isTag);
  assert.equal(tags.length, 1);
  const tag = tags[0]!;
  assert.deepEqual(tag.slice(0, 6), ['aws', 'ec2', 'create-tags', '--resources', 'i-0abc123', '--tags']);
  const m = /^Key=fleet:converged,Value=(.*)$/.exec(tag[6] ?? '');
  assert.ok(m, tag.join(' '));
  assert.match(m[1]!, ISO);
  assert.equal(tag.length, 7, 'no --endpoint-url without AWS_ENDPOINT_URL');
  assert.ok(indexOfCall(r, isTag) > lastIndexOfCall(r, isMainRun), 'tagged only after the last (converged) run');
  // With the trailing slash: the AWS CLI appends "latest/api/token" to it as is.
  assert.deepEqual(callsOf(r, 'aws-env'), [['us-east-1', `${IMDS}/`]]);
  assertImdsV2(r);
  assert.match(r.stderr, /run 1: promises not kept: not repaired 33\.33%/);
  assert.match(r.stderr, /converged on agent run 3/);
  assert.match(r.stderr, /ready: tagged i-0abc123 fleet:converged=\d{4}-/);
  // Nothing installed, nothing told to systemd, no state for a role without state.s3.
  assert.deepEqual(callsOf(r, 'apt-get'), []);
  assert.deepEqual(callsOf(r, 'systemctl'), []);
  assert.equal(existsSync(join(r.root, 'var', 'lib', 'fleet')), false);
  assert.equal(readFileSync(join(r.root, 'dev', 'console'), 'utf8'), '');
});

test('behaviour: an agent that never converges: no tag, non-zero exit, a clear line on the console', () => {
  const r = runBootstrap(renderUserData(input('web-03')), { env: { STUB_FAIL_RUNS: '1000' } });
  assert.notEqual(r.status, 0);
  assert.equal(r.calls.filter(isMainRun).length, 10);
  assert.equal(r.calls.filter(isTag).length, 0);
  assert.match(r.stderr, /FAILED: did not converge in 10 agent runs \(none kept all its promises\); not tagging fleet:converged/);
  assert.match(readFileSync(join(r.root, 'dev', 'console'), 'utf8'), /^fleet-bootstrap web-03: FAILED: did not converge/);
});

test('behaviour: an agent that exits non-zero, or reports no outcome, has not converged', () => {
  // A cf-agent that first exits 3, then writes no outcome, then converges.
  const failing = STUBS['cf-agent']!.replace('nk=0.00\n', 'nk=0.00\nif [ "$n" -le 1 ]; then exit 3; fi\nif [ "$n" -le 2 ]; then exit 0; fi\n');
  assert.notEqual(failing, STUBS['cf-agent']);
  const r2 = (() => {
    const save = STUBS['cf-agent']!;
    STUBS['cf-agent'] = failing;
    try {
      return runBootstrap(renderUserData(input('web-03')), {});
    } finally {
      STUBS['cf-agent'] = save;
    }
  })();
  assert.equal(r2.status, 0, r2.stderr);
  assert.match(r2.stderr, /run 1: cf-agent exited 3/);
  assert.match(r2.stderr, /run 2: no outcome in /);
  assert.equal(r2.calls.filter(isMainRun).length, 3);
  assert.equal(r2.calls.filter(isTag).length, 1);
});

test('behaviour: the hub bootstraps to its own private IP, retrying until it answers', () => {
  const r = runBootstrap(renderUserData(input('hub-01')), { env: { STUB_BOOTSTRAP_FAILS: '2' } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    callsOf(r, 'cf-agent').filter((c) => c[0] === '--bootstrap'),
    [['--bootstrap', '10.0.0.5'], ['--bootstrap', '10.0.0.5'], ['--bootstrap', '10.0.0.5']],
  );
  assert.match(r.stderr, /attempt 2\/20 failed: cf-agent --bootstrap 10\.0\.0\.5/);
  assert.equal(r.calls.filter(isTag).length, 1);
  const aug = JSON.parse(readFileSync(join(r.root, 'var', 'lib', 'cfengine3', 'data', 'host_specific.json'), 'utf8')) as { vars: Record<string, string> };
  assert.equal(aug.vars['fleet_hub'], 'hub-01.prod.example.com');
});

test('behaviour: the hub syncs its masterfiles from policy: before it bootstraps to itself; web-03 does not', () => {
  const wd = join('var', 'lib', 'cfengine3');
  const hub = runBootstrap(renderUserData(input('hub-01')), { files: { [join(wd, 'masterfiles', 'stale.cf')]: '# from the package\n' } });
  assert.equal(hub.status, 0, hub.stderr);
  const isSync = (c: string[]): boolean => c[0] === 'aws' && c.includes('sync');
  const masterfiles = join(hub.root, wd, 'masterfiles');
  assert.deepEqual(hub.calls.filter(isSync), [['aws', 's3', 'sync', '--only-show-errors', 's3://demo-fleet-policy/masterfiles/', `${masterfiles}/`, '--delete']]);
  const sync = indexOfCall(hub, isSync);
  const boot = indexOfCall(hub, (c) => c[0] === 'cf-agent' && c[1] === '--bootstrap');
  assert.ok(sync >= 0 && boot > sync, 'the sync comes before cf-agent --bootstrap');
  assert.deepEqual(hub.calls[boot], ['cf-agent', '--bootstrap', '10.0.0.5']);
  assert.match(hub.stderr, /synced the masterfiles from s3:\/\/demo-fleet-policy\/masterfiles\/ into /);
  assert.equal(hub.calls.filter(isTag).length, 1);

  const web = runBootstrap(renderUserData(input('web-03')));
  assert.equal(web.status, 0, web.stderr);
  assert.deepEqual(web.calls.filter(isSync), []);
  assert.equal(existsSync(join(web.root, wd, 'masterfiles')), false);
  assert.doesNotMatch(web.stderr, /masterfiles/);
});

test('behaviour: the hub honours CFENGINE_TEST_OVERRIDE_WORKDIR for its masterfiles', () => {
  const over = mkdtempSync(join(tmpdir(), 'fleet-ud-wd-'));
  dirs.push(over);
  const r = runBootstrap(renderUserData(input('hub-01')), { env: { CFENGINE_TEST_OVERRIDE_WORKDIR: over } });
  const syncs = r.calls.filter((c) => c[0] === 'aws' && c.includes('sync'));
  assert.deepEqual(syncs.map((c) => c.slice(-2)), [[`${over}/masterfiles/`, '--delete']]);
  assert.equal(existsSync(join(over, 'masterfiles')), true);
});

test('behaviour: a masterfiles sync that fails stops the hub before its bootstrap, untagged, with a line on the console', () => {
  const save = STUBS['aws']!;
  STUBS['aws'] = 'case "$*" in *sync*) echo "fatal error: AccessDenied" >&2; exit 1 ;; esac\n';
  try {
    const r = runBootstrap(renderUserData(input('hub-01')));
    assert.notEqual(r.status, 0);
    assert.equal(r.calls.filter((c) => c[0] === 'aws' && c.includes('sync')).length, 5);
    assert.deepEqual(callsOf(r, 'cf-agent'), []);
    assert.equal(r.calls.filter(isTag).length, 0);
    assert.match(r.stderr, /FAILED: could not sync the masterfiles from s3:\/\/demo-fleet-policy\/masterfiles\/ into .*; not bootstrapping/);
    assert.match(readFileSync(join(r.root, 'dev', 'console'), 'utf8'), /^fleet-bootstrap hub-01: FAILED: could not sync the masterfiles/);
  } finally {
    STUBS['aws'] = save;
  }
});

test('behaviour: state.s3 is restored before the bootstrap, and its saver is installed', () => {
  const prefix = "ci/it's";
  const i = input('ci-01', { spec: stateSpec('demo-fleet-state', prefix) });
  const r = runBootstrap(renderUserData(i), { env: { AWS_ENDPOINT_URL: 'http://cloud.test:4566' } });
  assert.equal(r.status, 0, r.stderr);
  const stateDir = join(r.root, 'var', 'lib', 'fleet', 'state');
  const url = "s3://demo-fleet-state/ci/it's/ci-01/";
  const syncs = r.calls.filter((c) => c[0] === 'aws' && c.includes('sync'));
  assert.deepEqual(syncs, [['aws', '--endpoint-url', 'http://cloud.test:4566', 's3', 'sync', '--only-show-errors', url, `${stateDir}/`]]);
  assert.ok(indexOfCall(r, (c) => c[0] === 'aws' && c.includes('sync')) < indexOfCall(r, (c) => c[0] === 'cf-agent'));
  assert.equal(readFileSync(join(r.state, 'state-at-bootstrap'), 'utf8'), 'restored.conf\n');
  assert.equal(statSync(stateDir).mode & 0o777, 0o700);
  // The tag goes to the same endpoint.
  const tag = r.calls.find(isTag)!;
  assert.deepEqual(tag.slice(0, 4), ['aws', '--endpoint-url', 'http://cloud.test:4566', 'ec2']);
  // Augments tell the policy where the state lives.
  const aug = JSON.parse(readFileSync(join(r.root, 'var', 'lib', 'cfengine3', 'data', 'host_specific.json'), 'utf8')) as { vars: Record<string, string> };
  assert.equal(aug.vars['fleet_state_s3'], url);
  assert.deepEqual(aug, { ...renderAugments(i), vars: { ...renderAugments(i).vars, fleet_state_dir: stateDir } });
  // The saver: its configuration, its units, and what it does when run.
  assert.equal(readFileSync(join(r.root, 'etc', 'fleet', 'state-s3-url'), 'utf8'), `${url}\n`);
  assert.equal(readFileSync(join(r.root, 'etc', 'fleet', 'instance'), 'utf8').split('\n')[1], 'us-east-1');
  const units = join(r.root, 'etc', 'systemd', 'system');
  assert.match(readFileSync(join(units, 'fleet-state-save.path'), 'utf8'), /^PathChanged=\/var\/lib\/fleet\/state$/m);
  assert.match(readFileSync(join(units, 'fleet-state-save.service'), 'utf8'), /^ExecStart=\/usr\/local\/sbin\/fleet-state-save$/m);
  assert.match(readFileSync(join(units, 'fleet-state-save.timer'), 'utf8'), /^OnUnitActiveSec=10min$/m);
  const saver = join(r.root, 'usr', 'local', 'sbin', 'fleet-state-save');
  assert.equal(statSync(saver).mode & 0o777, 0o755);
  const log = join(r.state, 'calls.log');
  writeFileSync(log, '');
  const bin = join(r.state, '..', 'bin');
  const s = spawnSync('sh', [saver], {
    encoding: 'utf8',
    env: { PATH: `${bin}:/usr/bin:/bin`, FLEET_ROOT: r.root, STUB_LOG: log, STUB_STATE: r.state, AWS_ENDPOINT_URL: 'http://cloud.test:4566' },
  });
  assert.equal(s.status, 0, s.stderr);
  assert.deepEqual(readFileSync(log, 'utf8').split('\n').filter((l) => l).map((l) => l.split('\t')), [
    ['aws', '--endpoint-url', 'http://cloud.test:4566', 's3', 'sync', '--only-show-errors', `${stateDir}/`, url],
    ['aws-env', 'us-east-1', ''],
  ]);
});

test('behaviour: a state restore that fails stops the bootstrap, untagged', () => {
  const save = STUBS['aws']!;
  STUBS['aws'] = 'case "$*" in *sync*) echo "fatal error: AccessDenied" >&2; exit 1 ;; esac\n';
  try {
    const r = runBootstrap(renderUserData(input('ci-01')));
    assert.notEqual(r.status, 0);
    assert.equal(r.calls.filter((c) => c[0] === 'aws' && c.includes('sync')).length, 5);
    assert.deepEqual(callsOf(r, 'cf-agent'), []);
    assert.equal(r.calls.filter(isTag).length, 0);
    assert.match(r.stderr, /FAILED: could not restore s3:\/\/demo-fleet-state\/ci\/ci-01\//);
  } finally {
    STUBS['aws'] = save;
  }
});

test('install: Debian/Ubuntu use apt-get, non-interactive, retrying on the dpkg lock', () => {
  const r = runBootstrap(renderUserData(input('web-03')), {
    install: true,
    env: { STUB_APT_FAILS: '1' },
    files: { 'etc/os-release': 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' },
  });
  assert.equal(r.status, 0, r.stderr);
  const apt = callsOf(r, 'apt-get');
  const opts = ['-q', '-y', '-o', 'DPkg::Lock::Timeout=300', '-o', 'Acquire::Retries=3', '-o', 'Dpkg::Options::=--force-confold'];
  assert.deepEqual(apt, [
    [...opts, 'update'],
    [...opts, 'update'],
    [...opts, 'install', '--no-install-recommends', 'cfengine3', 'curl', 'ca-certificates'],
  ]);
  assert.ok(callsOf(r, 'apt-env').every((c) => c[0] === 'noninteractive'));
  assert.ok(indexOfCall(r, (c) => c[0] === 'apt-get') < indexOfCall(r, (c) => c[0] === 'hostname'));
  assert.equal(r.calls.filter(isTag).length, 1);
});

test('install: Amazon Linux uses dnf and the CFEngine community repository', () => {
  const r = runBootstrap(renderUserData(input('web-03')), {
    install: true,
    files: { 'etc/os-release': 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\n' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    readFileSync(join(r.root, 'etc', 'yum.repos.d', 'cfengine-community.repo'), 'utf8'),
    '[cfengine-community]\nname=CFEngine Community\n' +
      'baseurl=https://cfengine-package-repos.s3.amazonaws.com/pub/yum/$basearch\nenabled=1\ngpgcheck=1\n' +
      'gpgkey=https://cfengine-package-repos.s3.amazonaws.com/pub/gpg.key\n',
  );
  assert.deepEqual(callsOf(r, 'rpm'), [['--import', 'https://cfengine-package-repos.s3.amazonaws.com/pub/gpg.key']]);
  // curl and the AWS CLI are there already (curl-minimal, awscli-2): only CFEngine is installed.
  assert.deepEqual(callsOf(r, 'dnf'), [['-y', 'install', 'cfengine-community']]);
  assert.deepEqual(callsOf(r, 'apt-get'), []);
});

test('install: an unknown OS stops the bootstrap with the reason', () => {
  const r = runBootstrap(renderUserData(input('web-03')), { install: true, files: { 'etc/os-release': 'ID=alpine\n' } });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /FAILED: unsupported OS \(ID alpine\): need the Debian\/Ubuntu or Amazon Linux\/RHEL family/);
  assert.deepEqual(callsOf(r, 'cf-agent'), []);
});

// ---- the augments file against the real CFEngine agent -----------------------------------------

test('cfengine: the real cf-agent reads the augments: plain role/env/index classes and data:variables', () => {
  need('cf-agent', 'cfengine3');
  need('cf-key', 'cfengine3');
  const i = input('web-03', { spec: fleetSpec({ dns: { zone: 'eu-prod.example.com', ttl: 60 } }) });
  const r = runBootstrap(renderUserData(i));
  assert.equal(r.status, 0, r.stderr);
  const wd = join(r.root, 'cfwork');
  mkdirSync(join(wd, 'data'), { recursive: true });
  mkdirSync(join(wd, 'bin'), { recursive: true });
  copyFileSync(join(r.root, 'var', 'lib', 'cfengine3', 'data', 'host_specific.json'), join(wd, 'data', 'host_specific.json'));
  const cfPromises = spawnSync('sh', ['-c', 'command -v cf-promises'], { encoding: 'utf8' }).stdout.trim();
  symlinkSync(cfPromises, join(wd, 'bin', 'cf-promises'));
  const policy = join(r.root, 'check.cf');
  writeFileSync(
    policy,
    `body common control { bundlesequence => { "check" }; }
bundle agent check
{
  vars:
      "fleet" slist => classesmatching("(role|env|index)_.*");
  reports:
    role_web.env_eu_prod.index_03::
      "classes in the default namespace";
    any::
      "class $(fleet)";
      "name=$(data:variables.fleet_name) env=$(data:variables.fleet_env) hub=$(data:variables.fleet_hub)";
}
`,
  );
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CFENGINE_TEST_OVERRIDE_WORKDIR: wd };
  const key = spawnSync('cf-key', [], { encoding: 'utf8', env });
  assert.equal(key.status, 0, key.stderr);
  const run = spawnSync('cf-agent', ['-K', '-f', policy], { encoding: 'utf8', env });
  assert.equal(run.status, 0, run.stderr);
  const out = run.stdout + run.stderr;
  assert.doesNotMatch(out, /error:/);
  assert.match(out, /R: classes in the default namespace/);
  for (const c of ['role_web', 'env_eu_prod', 'index_03']) assert.match(out, new RegExp(`R: class ${c}$`, 'm'));
  assert.match(out, /R: name=web-03 env=eu-prod hub=hub-01\.eu-prod\.example\.com/);
});
