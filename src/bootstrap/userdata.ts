/**
 * User-data that turns a stock image into the server a name describes (DESIGN.md sections
 * 2, 3, 4 and 9): a POSIX `sh` script that cloud-init runs once, as root, at first boot.
 *
 *   1. carries BOOTSTRAP_MARKER as its second line (the local cloud recognises it);
 *   2. installs CFEngine, curl and the AWS CLI (Debian/Ubuntu: apt; Amazon Linux/RHEL: dnf);
 *   3. sets the hostname to the short name and maps the FQDN in /etc/hosts to the private
 *      IP from IMDSv2, so the agent's hard classes come from the name;
 *   4. writes the CFEngine augments file `host_specific.json` (role/env/index classes and
 *      fleet_* variables), which every agent run loads, cf-execd's scheduled runs included;
 *   5. restores the role's `state.s3` prefix for this name and installs its saver;
 *   5b. on the hub, when the spec has `policy:`, syncs that S3 location into the agent's
 *      masterfiles directory (`aws s3 sync --delete`, bounded retries), so the hub serves
 *      the fleet's policy (infra/cfengine, uploaded by `fleet policy push`), not the package's;
 *   6. bootstraps to the policy hub (the hub to itself), with bounded retries;
 *   7. runs cf-agent until one run keeps all its promises (bounded);
 *   8. only then tags its own instance `fleet:converged=<ISO time>` (readiness contract);
 *      otherwise logs why to the console and exits non-zero, untagged.
 *
 * `renderUserData` is pure: the output depends only on its input (no clock, no env, no I/O).
 *
 * Safety: the script holds no secret. Every value is validated against a strict pattern
 * first (InputError on anything else) and enters the script exactly once, in the data block,
 * as a single-quoted assignment made by `shellQuote`. Everything after the data block is a
 * constant (`SCRIPT_BODY`), identical for every name, so no value can become code.
 *
 * Why the AWS CLI and not a hand-signed CreateTags request: on a stock Debian 12 image the
 * CLI is one `apt-get install awscli` away (bookworm ships 2.9), and Amazon Linux 2023 has it
 * preinstalled. It takes the instance-profile credentials from IMDSv2 itself, refreshes them,
 * signs with SigV4, retries throttling, and also does the S3 state sync, which would mean
 * listing and fetching a prefix by hand. SigV4 in `sh` needs openssl's HMAC chain, the
 * credential dance and clock-skew handling: more code in a 16 KB budget and more to go wrong.
 *
 * Why augments (CMDB `host_specific.json`) for the classes: `cf-agent --bootstrap -D ...`
 * would define them for one run only; augments are read at startup by every agent, so
 * cf-execd's runs get them too. Checked against CFEngine 3.21 (libpromises/cmdb.c and the
 * Debian binary): the file is `$(sys.workdir)/data/host_specific.json`, i.e.
 * /var/lib/cfengine3/data on Debian's package and /var/cfengine/data upstream; a CMDB class
 * must be `["any::"]` (`["any"]` is rejected: "only '[\"any::\"]' allowed"); CMDB classes
 * land in the `data` namespace unless the key names one, so the keys are `default:role_web`
 * etc. and policy can test plain `role_web::` like the hard classes; CMDB variables land in
 * `data:variables` (policy reads `$(data:variables.fleet_name)`); values may not contain
 * `$(` / `${` (rejected as variable references; our validation excludes `$`).
 *
 * How a converged run is recognised: cf-agent 3.21 exits 0 even when promises are not kept
 * (verified: a failing `commands:` promise gives exit 0). Each run appends one line to
 * `$(sys.workdir)/promise_summary.log`: "Outcome of version ... Promises observed to be kept
 * K%, Promises repaired R%, Promises not repaired N%" (PR_NOTKEPT of the run). A run counts
 * as converged when cf-agent exits 0, it appended at least one outcome line, every line it
 * appended says "Promises not repaired 0.00%", and it did not fall back to failsafe.cf
 * ("... so going to failsafe", which would report the failsafe policy's outcome instead).
 * The percentage has two decimals: one failure hides only among more than 20,000 counted
 * promise actuations (vars and classes are not counted), far beyond a real policy.
 *
 * Test knobs, read from the script's environment (none changes the rendered script):
 * FLEET_ROOT (prefix for every path the script writes or reads as configuration; also
 * "sandbox mode": hostnamectl and systemctl are left alone), FLEET_IMDS_ENDPOINT (default
 * http://169.254.169.254; also given to the AWS CLI as AWS_EC2_METADATA_SERVICE_ENDPOINT, with
 * the trailing slash the CLI needs: awscli 2.9 builds `<endpoint>latest/api/token`),
 * AWS_ENDPOINT_URL (passed as --endpoint-url: Debian's CLI 2.9 predates the variable),
 * FLEET_SKIP_INSTALL=1, FLEET_RETRY_PAUSE (first pause in seconds, default 5; doubles up to
 * 60), FLEET_PRINT_VARS=1 (print the data block as name=value lines and exit),
 * CFENGINE_TEST_OVERRIDE_WORKDIR (honoured as the agent's workdir, as cf-agent does).
 */
import { Buffer } from 'node:buffer';

import { bucketProblem, prefixProblem } from '../config/validators.js';
import { FleetError, InputError } from '../errors.js';
import type { FleetName, FleetSpec, RoleSpec } from '../model.js';
import { canonify, conventionOf, parseName } from '../naming.js';
import { BOOTSTRAP_MARKER } from './marker.js';

/** EC2 accepts at most 16 KB of user-data before base64 (DESIGN.md section 7). */
export const USER_DATA_MAX_BYTES = 16 * 1024;

/** Where a role's `state.s3` prefix is restored to, and saved back from. */
export const STATE_DIR = '/var/lib/fleet/state';

/**
 * The CFEngine community package repository for the RPM family (Amazon Linux, RHEL and
 * kin), as published by CFEngine ("Linux package repositories": yum repo `pub/yum/$basearch`,
 * signed with `pub/gpg.key`; the package is `cfengine-community`, installed under
 * /var/cfengine). Configuration, not a secret; override it with `cfengineRpmRepo` to use a
 * mirror. The script appends `/$basearch` to the base URL. It serves upstream's current
 * community release, not necessarily 3.21.
 */
export const DEFAULT_CFENGINE_RPM_REPO = {
  baseUrl: 'https://cfengine-package-repos.s3.amazonaws.com/pub/yum',
  gpgKeyUrl: 'https://cfengine-package-repos.s3.amazonaws.com/pub/gpg.key',
} as const;

export interface UserDataInput {
  spec: FleetSpec;
  /**
   * The name to bootstrap: `web-03`, `web-03.prod.example.com`, or a parsed FleetName. It is
   * parsed again against the spec's convention; its role must be declared in `spec.roles`,
   * which is where the role's settings (state.s3) come from: one source of truth.
   */
  name: FleetName | string;
  /** The generation being launched (the `fleet:generation` tag); a whole number >= 0. */
  generation: number;
  /** Package source for the RPM family; DEFAULT_CFENGINE_RPM_REPO unless given. */
  cfengineRpmRepo?: { baseUrl: string; gpgKeyUrl: string };
}

/** What the script knows, validated; the values of the data block, in its order. */
export interface UserDataValues {
  fleet: string;
  name: string;
  fqdn: string;
  role: string;
  env: string;
  index: string;
  generation: string;
  /** FQDN of the policy hub. */
  hub: string;
  /** '1' on the hub itself (it bootstraps to its own private IP), else '0'. */
  is_hub: '0' | '1';
  /** `s3://bucket/prefix/name/`, or '' when the role declares no state.s3. */
  state_s3: string;
  /** On the hub: `s3://bucket/prefix/`, the masterfiles (`policy:`); '' elsewhere or without one. */
  policy_s3: string;
  rpm_repo: string;
  rpm_key: string;
  /** The environment as a CFEngine class-name part (canonified): `prod`, `eu_prod`. */
  env_class: string;
}

/** CFEngine augments (CMDB) document for a name. */
export interface Augments {
  classes: Record<string, ['any::']>;
  vars: Record<string, string>;
}

/** POSIX single-quoting: `it's` -> `'it'\''s'`. The result is one word, never expanded. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---- validation ---------------------------------------------------------------------

const FLEET_RE = /^[a-z][a-z0-9-]{0,31}$/;
const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_RE = /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/;
const URL_MAX = 256;
const URL_RE = /^https:\/\/[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?(\/[A-Za-z0-9._~-]+)*\/?$/;
/**
 * What the data block may hold at all: printable ASCII without `$`, backtick, backslash or
 * `"` (so a value is also a valid JSON string body and never a CFEngine variable reference).
 */
const SAFE_RE = /^[\x20-\x7e]*$/;
const UNSAFE_CHARS = /[$`\\"]/;

function bad(what: string, value: unknown, reason: string): InputError {
  return new InputError(`user-data: ${what} ${JSON.stringify(value)} ${reason}`, { data: { field: what, value, reason } });
}

function zoneProblem(zone: string): string | undefined {
  if (zone.length > 253) return `is ${zone.length} characters long; at most 253`;
  const labels = zone.split('.');
  if (labels.length < 2) return 'must have at least two labels, such as prod.example.com';
  const l = labels.find((x) => !LABEL_RE.test(x));
  if (l !== undefined) return `has the label ${JSON.stringify(l)}; labels are lowercase a-z, 0-9 and inner "-", 1-63 characters`;
  return undefined;
}

function urlProblem(url: string): string | undefined {
  if (url.length > URL_MAX) return `is ${url.length} characters long; at most ${URL_MAX}`;
  return URL_RE.test(url) ? undefined : 'is not a plain https URL (https://host[:port]/path, path of A-Z a-z 0-9 . _ ~ -)';
}

/** `s3://bucket/` or `s3://bucket/prefix/`, both parts validated; `what` names the field. */
function s3Url(what: string, bucket: unknown, prefix: unknown): string {
  const bp = typeof bucket === 'string' ? bucketProblem(bucket) ?? (BUCKET_RE.test(bucket) ? undefined : 'is not a bucket name') : 'is not a string';
  if (bp) throw bad(`${what} bucket`, bucket, `is not allowed: ${bp}`);
  if (typeof prefix !== 'string') throw bad(`${what} prefix`, prefix, 'is not a string');
  const pp = prefixProblem(prefix) ?? (prefix === '' || PREFIX_RE.test(prefix) ? undefined : 'must be segments of A-Z a-z 0-9 ! - _ . * \' ( ) joined by single "/", without a leading or trailing "/"');
  if (pp) throw bad(`${what} prefix`, prefix, `is not allowed: ${pp}`);
  return `s3://${bucket}/${prefix === '' ? '' : `${prefix}/`}`;
}

function parseIn(what: string, input: string, spec: FleetSpec): FleetName {
  try {
    return parseName(input, conventionOf(spec));
  } catch (e) {
    throw new InputError(`user-data: ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e, data: { field: what, value: input } });
  }
}

/** Validate the input and compute every value of the data block. Throws InputError. */
export function userDataValues(input: UserDataInput): UserDataValues {
  const { spec } = input;
  if (typeof spec.fleet !== 'string' || !FLEET_RE.test(spec.fleet)) {
    throw bad('fleet', spec.fleet, 'is not a fleet name: a-z, 0-9 and "-", starting with a letter, at most 32 characters');
  }
  const zone = spec.dns?.zone;
  const zp = typeof zone === 'string' ? zoneProblem(zone) : 'is not a string';
  if (zp) throw bad('dns.zone', zone, zp);

  const given = input.name;
  const name = parseIn('name', typeof given === 'string' ? given : given.name, spec);
  if (typeof given !== 'string' && (given.fqdn !== name.fqdn || given.role !== name.role || given.index !== name.index)) {
    throw bad('name', given.fqdn, `does not match the name ${name.fqdn} its short name gives in zone ${spec.dns.zone}`);
  }
  const role: RoleSpec | undefined = spec.roles.find((r) => r.name === name.role);
  if (!role) throw bad('name', name.name, `belongs to role ${JSON.stringify(name.role)}, which the spec does not declare`);

  const hub = parseIn('hub', spec.hub, spec);

  if (!Number.isSafeInteger(input.generation) || input.generation < 0) {
    throw bad('generation', input.generation, 'must be a whole number >= 0');
  }

  let stateS3 = '';
  if (role.stateS3) {
    stateS3 = `${s3Url(`roles.${role.name}.state.s3`, role.stateS3.bucket, role.stateS3.prefix)}${name.name}/`;
  }

  const isHub = hub.name === name.name;
  let policyS3 = '';
  if (isHub && spec.policyS3) {
    policyS3 = s3Url('policy', spec.policyS3.bucket, spec.policyS3.prefix);
  }

  const repo = input.cfengineRpmRepo ?? DEFAULT_CFENGINE_RPM_REPO;
  for (const [what, url] of [['cfengineRpmRepo.baseUrl', repo.baseUrl], ['cfengineRpmRepo.gpgKeyUrl', repo.gpgKeyUrl]] as const) {
    const up = typeof url === 'string' ? urlProblem(url) : 'is not a string';
    if (up) throw bad(what, url, up);
  }

  const index = name.name.slice(name.role.length + 1);
  const env = name.environment;
  const values: UserDataValues = {
    fleet: spec.fleet,
    name: name.name,
    fqdn: name.fqdn,
    role: name.role,
    env,
    index,
    generation: String(input.generation),
    hub: hub.fqdn,
    is_hub: isHub ? '1' : '0',
    state_s3: stateS3,
    policy_s3: policyS3,
    rpm_repo: repo.baseUrl.replace(/\/$/, ''),
    rpm_key: repo.gpgKeyUrl,
    env_class: canonify(env),
  };

  // Defence in depth: whatever the validators above let through, the data block holds only
  // printable ASCII without `$`, backtick or backslash, on one line.
  for (const [k, v] of Object.entries(values)) {
    if (!SAFE_RE.test(v) || UNSAFE_CHARS.test(v)) throw bad(k, v, 'holds a character the bootstrap script does not accept');
  }
  return values;
}

/**
 * The augments document the script writes (it builds the same JSON from the data block, so
 * each value is in the script once): the classes the bootstrap defines explicitly
 * (DESIGN.md section 3, as in naming.ts `cfengineClasses`), in the default namespace, and
 * the fleet_* variables (in `data:variables`).
 */
function augmentsOf(v: UserDataValues): Augments {
  const classes: Augments['classes'] = {};
  for (const c of [`role_${v.role}`, `env_${v.env_class}`, `index_${v.index}`]) classes[`default:${c}`] = ['any::'];
  const vars: Record<string, string> = {
    fleet_fleet: v.fleet,
    fleet_name: v.name,
    fleet_role: v.role,
    fleet_env: v.env,
    fleet_index: v.index,
    fleet_fqdn: v.fqdn,
    fleet_hub: v.hub,
    fleet_generation: v.generation,
  };
  if (v.state_s3 !== '') {
    vars['fleet_state_dir'] = STATE_DIR;
    vars['fleet_state_s3'] = v.state_s3;
  }
  return { classes, vars };
}

/** The augments document for a name (what the script writes to host_specific.json). */
export function renderAugments(input: UserDataInput): Augments {
  return augmentsOf(userDataValues(input));
}

// ---- rendering ----------------------------------------------------------------------

/** The order of the data block; FLEET_PRINT_VARS prints the same names in the same order. */
export const DATA_KEYS: readonly (keyof UserDataValues)[] = [
  'fleet', 'name', 'fqdn', 'role', 'env', 'env_class', 'index', 'generation', 'hub', 'is_hub', 'state_s3', 'policy_s3', 'rpm_repo', 'rpm_key',
];

/** Render the user-data script for one name. Pure. Throws InputError on any invalid value. */
export function renderUserData(input: UserDataInput): string {
  const v = userDataValues(input);
  const data = DATA_KEYS.map((k) => `${k}=${shellQuote(v[k])}`).join('\n');
  const script = `${SCRIPT_HEAD}\n${DATA_BEGIN}\n${data}\n${DATA_END}\n${SCRIPT_BODY}`;
  const bytes = Buffer.byteLength(script, 'utf8');
  if (bytes > USER_DATA_MAX_BYTES) {
    throw new FleetError(`user-data for ${v.fqdn} is ${bytes} bytes; EC2 accepts at most ${USER_DATA_MAX_BYTES} before base64`, {
      data: { name: v.name, bytes, max: USER_DATA_MAX_BYTES },
    });
  }
  return script;
}

/** The user-data as RunInstances wants it from the v3 SDK: base64 of the script. */
export function userDataBase64(input: UserDataInput): string {
  return Buffer.from(renderUserData(input), 'utf8').toString('base64');
}

// ---- the constant script ------------------------------------------------------------

/**
 * Template tag for the constant parts of the script: the raw text as written (backslashes
 * stay), where `\${` stands for the shell's `${`. It takes no interpolation at all (the
 * `never` parameter makes `${x}` a type error), so no value can slip into the body.
 */
function sh(strings: TemplateStringsArray, ...none: never[]): string {
  if (none.length > 0) throw new FleetError('internal: the bootstrap script body takes no interpolation');
  return strings.raw.join('').replaceAll('\\${', '${');
}

export const DATA_BEGIN = '# ---- data: rendered per name, validated, single-quoted; nothing else in this script varies';
export const DATA_END = '# ---- end of data';

const SCRIPT_HEAD =
  `#!/bin/sh\n${BOOTSTRAP_MARKER}\n` +
  sh`# Bootstrap of a fleet instance, rendered by fleet (src/bootstrap/userdata.ts), run once by
# cloud-init as root: hostname from the name, CFEngine bootstrapped to the policy hub, agent
# runs until one keeps all its promises, then the instance tags itself fleet:converged.
# No secrets here. Environment knobs for tests: FLEET_ROOT, FLEET_IMDS_ENDPOINT,
# AWS_ENDPOINT_URL, FLEET_SKIP_INSTALL=1, FLEET_RETRY_PAUSE, FLEET_PRINT_VARS=1.
set -eu`;

/**
 * Everything after the data block: the same for every name. It spells the readiness tag
 * `fleet:converged` (CONVERGED_TAG in marker.ts; a test holds the two together).
 */
export const SCRIPT_BODY = sh`
if [ "\${FLEET_PRINT_VARS:-}" = 1 ]; then
  printf '%s=%s\n' fleet "$fleet" name "$name" fqdn "$fqdn" role "$role" env "$env" env_class "$env_class" \
    index "$index" generation "$generation" hub "$hub" is_hub "$is_hub" state_s3 "$state_s3" \
    policy_s3 "$policy_s3" rpm_repo "$rpm_repo" rpm_key "$rpm_key"
  exit 0
fi

R=\${FLEET_ROOT:-}
imds=\${FLEET_IMDS_ENDPOINT:-http://169.254.169.254}
imds=\${imds%/}
# The AWS CLI appends "latest/api/token" as is: without the slash Debian's 2.9 gives up.
AWS_EC2_METADATA_SERVICE_ENDPOINT=\${AWS_EC2_METADATA_SERVICE_ENDPOINT:-$imds/}
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin:/var/cfengine/bin
export AWS_EC2_METADATA_SERVICE_ENDPOINT PATH
state_dir=$R/var/lib/fleet/state
agent_runs=10
ip=127.0.1.1
region=

log() { printf '%s fleet-bootstrap %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "$*" >&2; }
die() {
  log "FAILED: $*"
  if [ -w "$R/dev/console" ]; then printf 'fleet-bootstrap %s: FAILED: %s\n' "$name" "$*" >"$R/dev/console" || :; fi
  exit 1
}

# pause N: sleep before attempt N+1: FLEET_RETRY_PAUSE (default 5) seconds, doubling, at most 60.
pause() {
  p=\${FLEET_RETRY_PAUSE:-5} i=1
  case $p in '' | *[!0-9]*) p=5 ;; esac
  while [ "$i" -lt "$1" ] && [ "$p" -lt 60 ]; do p=$((p * 2)) i=$((i + 1)); done
  [ "$p" -le 60 ] || p=60
  sleep "$p"
}
# retry MAX CMD...: run CMD until it succeeds, at most MAX times. (Not nested: globals.)
retry() {
  max=$1 n=1
  shift
  until "$@"; do
    [ "$n" -lt "$max" ] || return 1
    log "attempt $n/$max failed: $*"
    pause "$n"
    n=$((n + 1))
  done
}

# IMDSv2: a fresh session token for every read (waiting for the hub may outlast one).
md() {
  t=$(curl -fsS --retry 5 --retry-connrefused --max-time 10 -X PUT \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$imds/latest/api/token") || return 1
  curl -fsS --retry 5 --retry-connrefused --max-time 10 -H "X-aws-ec2-metadata-token: $t" "$imds/latest/meta-data/$1"
}
awsx() {
  if [ -z "$region" ]; then
    region=$(md placement/region) || region=
    if [ -z "$region" ]; then die "no region from the instance metadata service"; fi
  fi
  if [ -n "\${AWS_ENDPOINT_URL:-}" ]; then set -- --endpoint-url "$AWS_ENDPOINT_URL" "$@"; fi
  AWS_DEFAULT_REGION=$region aws "$@"
}

# ---- packages: CFEngine, curl, the AWS CLI
apt_get() {
  DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3 \
    -o Dpkg::Options::=--force-confold "$@"
}
has() { command -v "$1" >/dev/null 2>&1; }
install_deb() {
  retry 6 apt_get update || die "apt-get update failed"
  retry 6 apt_get install --no-install-recommends cfengine3 curl ca-certificates || die "installing cfengine3 failed"
  # Debian 12 has awscli 2.9; Ubuntu 24.04 has only the snap.
  has aws || retry 3 apt_get install --no-install-recommends awscli || { has snap && snap install aws-cli --classic; } ||
    die "could not install the AWS CLI"
}
install_rpm() {
  pm=dnf
  has dnf || pm=yum
  mkdir -p "$R/etc/yum.repos.d"
  printf "[cfengine-community]\nname=CFEngine Community\nbaseurl=%s/\$basearch\nenabled=1\ngpgcheck=1\ngpgkey=%s\n" \
    "$rpm_repo" "$rpm_key" >"$R/etc/yum.repos.d/cfengine-community.repo"
  retry 6 rpm --import "$rpm_key" || die "could not import the CFEngine package key $rpm_key"
  retry 6 "$pm" -y install cfengine-community || die "installing cfengine-community failed"
  # Amazon Linux 2023 ships curl-minimal and awscli-2: install only what is missing.
  has curl || retry 6 "$pm" -y install curl || die "installing curl failed"
  has aws || retry 3 "$pm" -y install awscli-2 || retry 3 "$pm" -y install awscli || die "could not install the AWS CLI"
}
install_packages() {
  if [ "\${FLEET_SKIP_INSTALL:-}" = 1 ]; then
    log "package installation skipped (FLEET_SKIP_INSTALL=1)"
    return 0
  fi
  f=$R/etc/os-release
  [ -r "$f" ] || f=/etc/os-release
  ids=$(sed -n 's/^ID=//p; s/^ID_LIKE=//p' "$f" | tr -d '"' | tr '\n' ' ')
  case " $ids " in
    *" debian "* | *" ubuntu "*) install_deb ;;
    *" rhel "* | *" fedora "* | *" centos "* | *" amzn "*) install_rpm ;;
    *) die "unsupported OS (ID \${ids% }): need the Debian/Ubuntu or Amazon Linux/RHEL family" ;;
  esac
}

# ---- hostname: the short name; the FQDN resolves to the private IP (CFEngine's hard classes)
set_hostname() {
  a=$(md local-ipv4) || a=
  case $a in
    '' | *[!0-9.]*) log "no private IPv4 from the instance metadata service; mapping the name to $ip" ;;
    *) ip=$a ;;
  esac
  printf '%s\n' "$name" >"$R/etc/hostname"
  # FLEET_ROOT set = sandbox: never ask systemd-hostnamed (it would rename the host).
  if [ -z "$R" ] && has hostnamectl && hostnamectl set-hostname "$name"; then :; else
    hostname "$name" || die "could not set the hostname to $name"
  fi
  h=$R/etc/hosts
  touch "$h"
  awk -v f="$fqdn" -v s="$name" '{ for (i = 2; i <= NF; i++) if ($i == f || $i == s) next; print }' "$h" >"$h.fleet"
  printf '%s\t%s %s\n' "$ip" "$fqdn" "$name" >>"$h.fleet"
  cat "$h.fleet" >"$h"
  rm -f "$h.fleet"
  # Keep cloud-init from renaming the host or rewriting /etc/hosts on later boots.
  if [ -d "$R/etc/cloud/cloud.cfg.d" ]; then
    printf 'preserve_hostname: true\nmanage_etc_hosts: false\n' >"$R/etc/cloud/cloud.cfg.d/99-fleet-hostname.cfg"
  fi
}

# ---- augments: classes and variables for every agent run (host_specific.json in workdir/data)
write_augments() {
  if [ -n "\${CFENGINE_TEST_OVERRIDE_WORKDIR:-}" ]; then wd=$CFENGINE_TEST_OVERRIDE_WORKDIR
  elif [ -x "$R/var/cfengine/bin/cf-agent" ]; then wd=$R/var/cfengine
  else wd=$R/var/lib/cfengine3; fi
  mkdir -p "$wd/data"
  chmod 700 "$wd/data"
  # The values hold no '"', '\' or '$' (validated when rendered): safe as JSON strings.
  st=
  if [ -n "$state_s3" ]; then st=$(printf ',"fleet_state_dir":"%s","fleet_state_s3":"%s"' "$state_dir" "$state_s3"); fi
  printf '{"classes":{"default:role_%s":["any::"],"default:env_%s":["any::"],"default:index_%s":["any::"]},' \
    "$role" "$env_class" "$index" >"$wd/data/host_specific.json.fleet"
  printf '"vars":{"fleet_fleet":"%s","fleet_name":"%s","fleet_role":"%s","fleet_env":"%s","fleet_index":"%s",' \
    "$fleet" "$name" "$role" "$env" "$index" >>"$wd/data/host_specific.json.fleet"
  printf '"fleet_fqdn":"%s","fleet_hub":"%s","fleet_generation":"%s"%s}}\n' \
    "$fqdn" "$hub" "$generation" "$st" >>"$wd/data/host_specific.json.fleet"
  chmod 600 "$wd/data/host_specific.json.fleet"
  mv -f "$wd/data/host_specific.json.fleet" "$wd/data/host_specific.json"
}

# ---- state.s3: restore before the first agent run, then save back on change (never deletes)
restore_state() {
  [ -n "$state_s3" ] || return 0
  mkdir -p "$state_dir" "$R/etc/fleet" "$R/usr/local/sbin" "$R/etc/systemd/system"
  chmod 700 "$state_dir"
  retry 5 awsx s3 sync --only-show-errors "$state_s3" "$state_dir/" || die "could not restore $state_s3"
  log "restored $state_s3 into $state_dir"
  printf '%s\n' "$state_s3" >"$R/etc/fleet/state-s3-url"
  cat >"$R/usr/local/sbin/fleet-state-save" <<'EOF'
#!/bin/sh
# fleet: save this name's generated state to S3 (installed by the fleet bootstrap).
set -eu
R=\${FLEET_ROOT:-}
IFS= read -r url <"$R/etc/fleet/state-s3-url"
AWS_DEFAULT_REGION=$(sed -n 2p "$R/etc/fleet/instance")
export AWS_DEFAULT_REGION
if [ -n "\${AWS_ENDPOINT_URL:-}" ]; then set -- --endpoint-url "$AWS_ENDPOINT_URL"; fi
exec aws "$@" s3 sync --only-show-errors "$R/var/lib/fleet/state/" "$url"
EOF
  chmod 755 "$R/usr/local/sbin/fleet-state-save"
  u=$R/etc/systemd/system/fleet-state-save
  printf '[Unit]\nDescription=fleet: save state to S3\n[Service]\nType=oneshot\nExecStart=%s\n' \
    /usr/local/sbin/fleet-state-save >"$u.service"
  printf '[Path]\nPathChanged=%s\n[Install]\nWantedBy=multi-user.target\n' /var/lib/fleet/state >"$u.path"
  # The path unit sees only the top directory; the timer catches the rest.
  printf '[Timer]\nOnBootSec=5min\nOnUnitActiveSec=10min\n[Install]\nWantedBy=timers.target\n' >"$u.timer"
  if [ -z "$R" ] && [ -d /run/systemd/system ]; then
    if ! { systemctl daemon-reload && systemctl enable --now fleet-state-save.path fleet-state-save.timer; }; then
      die "could not enable fleet-state-save"
    fi
  fi
}

# ---- the hub's masterfiles: the fleet's policy (policy:), synced before it bootstraps to itself
fetch_policy() {
  if [ "$is_hub" != 1 ] || [ -z "$policy_s3" ]; then return 0; fi
  mkdir -p "$wd/masterfiles"
  retry 5 awsx s3 sync --only-show-errors "$policy_s3" "$wd/masterfiles/" --delete ||
    die "could not sync the masterfiles from $policy_s3 into $wd/masterfiles; not bootstrapping"
  log "synced the masterfiles from $policy_s3 into $wd/masterfiles"
}

# ---- CFEngine: bootstrap to the hub (the hub to its own address), then converge
bootstrap() {
  target=$hub
  if [ "$is_hub" = 1 ]; then target=$ip; fi
  log "bootstrapping to the policy hub $target"
  retry 20 cf-agent --bootstrap "$target" || die "could not bootstrap to the policy hub $target"
}

# agent_run N: one agent run; success when it kept all its promises (promise_summary.log).
agent_run() {
  sum=$wd/promise_summary.log out=$wd/fleet-agent-run.log
  if [ -f "$wd/inputs/update.cf" ]; then
    cf-agent -K -f "$wd/inputs/update.cf" >&2 || log "run $1: policy update failed; running the cached policy"
  fi
  before=0
  if [ -f "$sum" ]; then before=$(wc -l <"$sum" | tr -d ' '); fi
  rc=0
  cf-agent -K -I >"$out" 2>&1 || rc=$?
  cat "$out" >&2
  if [ "$rc" -ne 0 ]; then log "run $1: cf-agent exited $rc"; return 1; fi
  if grep -q 'so going to failsafe' "$out"; then log "run $1: the policy did not validate (failsafe)"; return 1; fi
  new=$(tail -n "+$((before + 1))" "$sum" 2>/dev/null | grep 'Outcome of version') || :
  if [ -z "$new" ]; then log "run $1: no outcome in $sum"; return 1; fi
  if printf '%s\n' "$new" | grep -Ev 'Promises not repaired 0(\.0+)?%' >/dev/null; then
    log "run $1: promises not kept: $(printf '%s\n' "$new" | sed -n 's/.*Promises not repaired/not repaired/p' | tr '\n' ' ')"
    return 1
  fi
}
converge() {
  n=1
  until agent_run "$n"; do
    [ "$n" -lt "$agent_runs" ] || die "did not converge in $agent_runs agent runs (none kept all its promises); not tagging fleet:converged"
    pause "$n"
    n=$((n + 1))
  done
  log "converged on agent run $n"
}

# ---- for fleet-report-mounted (from the policy): metadata endpoint, region, instance id
note_instance() {
  iid=$(md instance-id) || die "no instance id from the instance metadata service"
  [ -n "$region" ] || region=$(md placement/region) || die "no region from the instance metadata service"
  mkdir -p "$R/etc/fleet"
  printf '%s\n' "$imds" "$region" "$iid" >"$R/etc/fleet/instance"
}

# ---- readiness: tag this instance (noted by note_instance), only after a converged run
report_ready() {
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  retry 5 awsx ec2 create-tags --resources "$iid" --tags "Key=fleet:converged,Value=$now" ||
    die "converged, but could not tag $iid fleet:converged"
  log "ready: tagged $iid fleet:converged=$now"
}

log "bootstrapping $fqdn (fleet $fleet, role $role, generation $generation), policy hub $hub"
install_packages
set_hostname
write_augments
note_instance
restore_state
fetch_policy
bootstrap
converge
report_ready
`;
