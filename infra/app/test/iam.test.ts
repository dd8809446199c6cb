/**
 * Least privilege, checked both ways: every SDK command the adapters send maps to an IAM
 * action in src/aws/iam.ts (a static scan of the sources), and the synthesized stack allows
 * each part exactly the actions of the adapter methods it calls, with the scoping conditions,
 * and nothing else (a walk of every IAM statement in the template).
 */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { COMMAND_ACTION, IMPLIED_ACTION, METHODS, NODE_CALLS, PLATFORM, UNSCOPABLE, partMethods, type Command, type Part } from '../../../src/aws/iam.js';
import { FULL, MINIMAL, ROOT, resources, synth, ZONE_ID } from './helpers.js';

const awsDir = join(ROOT, 'src', 'aws');
const adapterFiles = readdirSync(awsDir).filter((f) => f.endsWith('.ts') && f !== 'iam.ts');

/** `new XxxCommand(` in the adapters -> the files sending it. */
function sentCommands(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of adapterFiles) {
    const text = readFileSync(join(awsDir, f), 'utf8');
    for (const m of text.matchAll(/\bnew\s+([A-Z][A-Za-z0-9]*)Command\s*\(/g)) out.set(m[1]!, [...(out.get(m[1]!) ?? []), f]);
  }
  return out;
}

test('every SDK command the adapters send maps to an IAM action, and iam.ts lists no command nobody sends', () => {
  const sent = sentCommands();
  assert.ok(sent.size >= 20, `the scan found the adapters' commands (${sent.size})`);
  for (const [cmd, files] of sent) {
    assert.ok(Object.hasOwn(COMMAND_ACTION, cmd), `${cmd} (sent in ${files.join(', ')}) has no IAM action in src/aws/iam.ts COMMAND_ACTION`);
    assert.match(COMMAND_ACTION[cmd as Command], /^[a-z0-9]+:[A-Za-z0-9]+$/, `${cmd}: one action, no wildcard`);
  }
  for (const cmd of Object.keys(COMMAND_ACTION)) assert.ok(sent.has(cmd), `COMMAND_ACTION lists ${cmd}, which no adapter sends`);
  const attributed = new Set(Object.values(METHODS).flatMap((m) => [...m.sends]));
  assert.deepEqual([...attributed].sort(), [...sent.keys()].sort(), 'the methods\' commands are exactly the commands sent');
});

interface PortShape {
  /** Its methods, those of the interfaces it extends included. */
  members: Set<string>;
  /** The interfaces it extends. */
  bases: string[];
}

/** The port interfaces in src/ports.ts, with their members (inherited ones too: Catalog extends AccountCatalog). */
function portMembers(): Map<string, PortShape> {
  const text = readFileSync(join(ROOT, 'src', 'ports.ts'), 'utf8');
  const own = new Map<string, { members: string[]; bases: string[] }>();
  for (const m of text.matchAll(/export interface (\w+)(?:<[^>{]*>)?(?: extends ([\w\s,<>]+?))? \{([\s\S]*?)\n\}/g)) {
    const bases = (m[2] ?? '').split(',').map((b) => b.replace(/<.*$/, '').trim()).filter((b) => b !== '');
    own.set(m[1]!, { members: [...m[3]!.matchAll(/^\s+(\w+)\(/gm)].map((x) => x[1]!), bases });
  }
  const members = (name: string): string[] => {
    const p = own.get(name);
    return p ? [...p.members, ...p.bases.flatMap(members)] : [];
  };
  return new Map([...own.keys()].map((name) => [name, { members: new Set(members(name)), bases: own.get(name)!.bases }]));
}

const PORT_OF: Record<string, string> = {
  instances: 'Instances',
  volumes: 'Volumes',
  catalog: 'Catalog',
  dns: 'Dns',
  ebs: 'EbsDirect',
  journal: 'Journal',
  blobs: 'Blobs',
  objects: 'ObjectStore',
  records: 'Records',
};

/**
 * The ports the adapters implement: interfaces of src/ports.ts with methods, imported by
 * src/aws/*.ts. A port another imported port extends (AccountCatalog, inside Catalog) is
 * covered by that one: its methods are checked under the extending port's prefix.
 */
function adapterPorts(ports: Map<string, PortShape>): string[] {
  const imported = new Set<string>();
  for (const f of adapterFiles) {
    for (const m of readFileSync(join(awsDir, f), 'utf8').matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'\.\.\/ports\.js'/g)) {
      for (const name of m[1]!.split(',')) imported.add(name.replace(/^\s*type\s+/, '').trim());
    }
  }
  const extended = new Set([...imported].flatMap((name) => ports.get(name)?.bases ?? []));
  return [...ports.entries()].filter(([name, p]) => p.members.size > 0 && imported.has(name) && !extended.has(name)).map(([name]) => name).sort();
}

test('METHODS names every method of the AWS-backed ports, and only those', () => {
  const ports = portMembers();
  // A port a new adapter implements must be listed too, or its calls would go unauthorized.
  assert.deepEqual(Object.values(PORT_OF).sort(), adapterPorts(ports), 'the ports src/aws implements, each with a METHODS prefix in PORT_OF');
  const listed = new Map<string, Set<string>>();
  for (const key of Object.keys(METHODS)) {
    const [prefix, member] = key.split('.') as [string, string];
    const port = PORT_OF[prefix];
    assert.ok(port, `${key}: unknown port prefix`);
    assert.ok(ports.get(port)?.members.has(member), `${key}: ${port} has no method ${member} in src/ports.ts`);
    listed.set(port, new Set([...(listed.get(port) ?? []), member]));
  }
  for (const port of Object.values(PORT_OF)) {
    const missing = [...(ports.get(port)?.members ?? [])].filter((m) => !listed.get(port)?.has(m));
    assert.deepEqual(missing, [], `${port} methods missing from METHODS in src/aws/iam.ts`);
  }
});

test('every AWS CLI call an instance makes (bootstrap, policy templates) is in NODE_CALLS, and only those', () => {
  const files = [join(ROOT, 'src', 'bootstrap', 'userdata.ts')];
  const walk = (dir: string): void => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(join(ROOT, 'infra', 'cfengine'));
  const calls = new Set<string>();
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\bawsx?\b[^\n]{0,40}?\b(ec2|s3|s3api)\s+([a-z][a-z-]+)/g)) calls.add(`${m[1]} ${m[2]}`);
  }
  assert.ok(calls.size > 0, 'the scan found the instance\'s calls');
  assert.deepEqual([...calls].sort(), Object.keys(NODE_CALLS).sort());
});

// ---- the template walk

type Json = Record<string, any>;

/** A CloudFormation string expression as text: Fn::Join flattened, Ref -> ${Name}, GetAtt -> ${Id.Attr}. */
function text(v: unknown): string {
  if (typeof v === 'string') return v;
  const o = v as Json;
  if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(text).join(o['Fn::Join'][0] as string);
  if (o['Ref']) return `\${${o['Ref']}}`;
  if (o['Fn::GetAtt']) return `\${${(o['Fn::GetAtt'] as string[]).join('.')}}`;
  throw new Error(`unexpected expression ${JSON.stringify(v)}`);
}

interface Stmt {
  actions: string[];
  resources: string[];
  conditions: Json | undefined;
}

/** Each IAM role of the template -> every statement attached to it (inline and AWS::IAM::Policy). */
function roleStatements(json: Json): Map<string, Stmt[]> {
  const out = new Map<string, Stmt[]>();
  const norm = (s: Json): Stmt => {
    assert.equal(s['Effect'], 'Allow');
    assert.equal(s['NotAction'], undefined);
    assert.equal(s['NotResource'], undefined);
    return { actions: [s['Action']].flat(), resources: [s['Resource']].flat().map(text), conditions: s['Condition'] };
  };
  for (const [id, r] of Object.entries(resources(json, 'AWS::IAM::Role'))) {
    assert.equal(r.Properties.ManagedPolicyArns, undefined, `${id}: no managed policy`);
    out.set(id, (r.Properties.Policies ?? []).flatMap((p: Json) => p['PolicyDocument'].Statement.map(norm)));
  }
  for (const [id, p] of Object.entries(resources(json, 'AWS::IAM::Policy'))) {
    for (const role of p.Properties.Roles) {
      assert.ok(out.has(role.Ref), `${id} attaches to a role of this stack`);
      out.get(role.Ref)!.push(...p.Properties.PolicyDocument.Statement.map(norm));
    }
  }
  return out;
}

const actionsOf = (list: Stmt[]): string[] => [...new Set(list.flatMap((s) => s.actions))].sort();

/** What a part must be allowed, derived from the commands its methods send (not from the grants). */
function expectedLambda(part: Part, volumes: boolean, vpc: boolean): string[] {
  const methods = partMethods(part, { volumes });
  const out = new Set<string>(methods.flatMap((m) => METHODS[m].sends.map((c) => COMMAND_ACTION[c])));
  if (methods.some((m) => ['instances.launch', 'volumes.createVolume', 'volumes.createSnapshot'].includes(m))) out.add(IMPLIED_ACTION.tagOnCreate);
  if (methods.includes('instances.launch')) out.add(IMPLIED_ACTION.passRole);
  for (const a of [...PLATFORM.lambdaLogs, ...PLATFORM.lambdaDlq, ...(vpc ? PLATFORM.lambdaVpc : [])]) out.add(a);
  return [...out].sort();
}

function rolesByTrust(json: Json, service: string): string[] {
  return Object.entries(resources(json, 'AWS::IAM::Role'))
    .filter(([, r]) => r.Properties.AssumeRolePolicyDocument.Statement.some((s: Json) => s['Principal']?.Service === service))
    .map(([id]) => id);
}

function lambdaRole(json: Json, word: string): string {
  const fns = Object.values(resources(json, 'AWS::Lambda::Function')).filter((f: Json) => String(f['Properties'].Description).includes(word));
  assert.equal(fns.length, 1);
  return (fns[0] as Json)['Properties'].Role['Fn::GetAtt'][0];
}

const withAction = (list: Stmt[], action: string): Stmt[] => list.filter((s) => s.actions.includes(action));

for (const [name, yaml, volumes, vpc] of [['FULL', FULL, true, true], ['MINIMAL', MINIMAL, false, false]] as const) {
  test(`${name}: each role is allowed exactly its part's actions, and there is no other role`, () => {
    const { json } = synth(yaml);
    const roles = roleStatements(json);
    const interruption = lambdaRole(json, 'interruption');
    const chaos = lambdaRole(json, 'chaos');
    assert.deepEqual(actionsOf(roles.get(interruption)!), expectedLambda('interruption', volumes, vpc));
    assert.deepEqual(actionsOf(roles.get(chaos)!), expectedLambda('chaos', volumes, vpc));
    const sched = rolesByTrust(json, 'scheduler.amazonaws.com');
    assert.equal(sched.length, 1);
    assert.deepEqual(actionsOf(roles.get(sched[0]!)!), [...PLATFORM.schedulerInvoke, ...PLATFORM.schedulerDlq].sort());
    const nodes = rolesByTrust(json, 'ec2.amazonaws.com');
    assert.deepEqual([...roles.keys()].sort(), [interruption, chaos, ...sched, ...nodes].sort(), 'no other role');
    // Neither Lambda may create zones or buckets, or touch the policy and state objects (CLI only).
    for (const role of [interruption, chaos]) {
      for (const a of ['route53:CreateHostedZone', 's3:CreateBucket', 's3:DeleteObject']) assert.ok(!actionsOf(roles.get(role)!).includes(a), `${role} may not ${a}`);
    }
    // Volume actions only for a fleet with volumes.
    assert.equal(actionsOf(roles.get(interruption)!).includes('ec2:AttachVolume'), volumes);
  });

  test(`${name}: resources are scoped wherever IAM allows, with the fleet's conditions`, () => {
    const { json, spec } = synth(yaml);
    const roles = roleStatements(json);
    const handler = roles.get(lambdaRole(json, 'interruption'))!;
    const fleetTag = { 'aws:ResourceTag/fleet:fleet': spec.fleet };
    const all = [...roles.values()].flat();
    // "*" only for the actions IAM cannot scope.
    for (const s of all.filter((s) => s.resources.includes('*'))) {
      for (const a of s.actions) assert.ok(UNSCOPABLE[a] !== undefined || a.startsWith('ec2:Describe') || (PLATFORM.lambdaVpc as readonly string[]).includes(a), `${a} on "*"`);
    }
    // A type-wide wildcard on instances, volumes or snapshots never stands without a condition.
    for (const s of all.filter((s) => s.resources.some((r) => /:(instance|volume|snapshot)\/\*$/.test(r)))) {
      assert.ok(s.conditions !== undefined, `${s.actions.join(', ')} on ${s.resources.join(', ')} without a condition`);
    }
    // Mutations of instances and volumes: the fleet's only.
    for (const a of ['ec2:TerminateInstances', 'ec2:StopInstances', 'ec2:StartInstances', 'ec2:AttachVolume', 'ec2:DetachVolume', 'ec2:DeleteVolume', 'ebs:ListSnapshotBlocks']) {
      for (const s of withAction(all, a)) assert.deepEqual(s.conditions, { StringEquals: fleetTag }, a);
    }
    // RunInstances: what it creates must carry the fleet's tag; what it uses is fleet.yaml's subnets and groups.
    const run = withAction(handler, 'ec2:RunInstances');
    const created = run.filter((s) => s.resources.some((r) => r.endsWith(':instance/*')));
    assert.equal(created.length, 1);
    assert.deepEqual(created[0]!.conditions, { StringEquals: { 'aws:RequestTag/fleet:fleet': spec.fleet } });
    const used = run.find((s) => s.conditions === undefined)!;
    const subnets = [...new Set([...spec.defaults.subnets, ...spec.roles.flatMap((r) => r.subnets ?? [])])];
    assert.deepEqual(used.resources.filter((r) => r.includes(':subnet/')).map((r) => r.split('subnet/')[1]).sort(), subnets.sort());
    assert.deepEqual(used.resources.filter((r) => r.includes(':security-group/')).map((r) => r.split('security-group/')[1]), spec.defaults.securityGroups);
    assert.ok(used.resources.every((r) => !r.endsWith(':instance/*') && !r.endsWith(':volume/*')), 'created resources only under the tag condition');
    // Tags only at creation, with the fleet's tag.
    for (const s of withAction(handler, 'ec2:CreateTags')) {
      assert.ok(['RunInstances', 'CreateVolume', 'CreateSnapshot'].includes(s.conditions?.['StringEquals']?.['ec2:CreateAction']), JSON.stringify(s));
      assert.equal(s.conditions?.['StringEquals']?.['aws:RequestTag/fleet:fleet'], spec.fleet);
    }
    // PassRole: only the node roles, only to EC2.
    const pass = withAction(handler, 'iam:PassRole');
    assert.equal(pass.length, 1);
    assert.deepEqual(pass[0]!.resources.sort(), rolesByTrust(json, 'ec2.amazonaws.com').map((id) => `\${${id}.Arn}`).sort());
    assert.deepEqual(pass[0]!.conditions, { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
    // Route 53: the fleet's zone; A records of names inside it; changes by id.
    const zone = `arn:\${AWS::Partition}:route53:::hostedzone/${ZONE_ID}`;
    for (const a of ['route53:ListResourceRecordSets', 'route53:ChangeResourceRecordSets']) {
      for (const s of withAction(all, a)) assert.deepEqual(s.resources, [zone], a);
    }
    const change = withAction(handler, 'route53:ChangeResourceRecordSets');
    assert.deepEqual(change[0]!.conditions, {
      'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsRecordTypes': ['A'] },
      'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': [`*.${spec.dns.zone}`] },
    });
    for (const s of withAction(all, 'route53:GetChange')) assert.deepEqual(s.resources, ['arn:${AWS::Partition}:route53:::change/*']);
    // The journal: create objects under its prefix only.
    for (const s of withAction([...roles.get(lambdaRole(json, 'interruption'))!, ...roles.get(lambdaRole(json, 'chaos'))!], 's3:PutObject')) {
      assert.deepEqual(s.resources, [`arn:\${AWS::Partition}:s3:::${spec.journal.bucket}/${spec.journal.prefix}/*`]);
    }
    // Logs: the function's own log group.
    for (const word of ['interruption', 'chaos']) {
      const logs = withAction(roles.get(lambdaRole(json, word))!, 'logs:PutLogEvents');
      assert.equal(logs.length, 1);
      assert.match(logs[0]!.resources[0]!, /^\$\{\w+Logs\w+\.Arn\}$/);
    }
  });

  test(`${name}: an instance may tag only itself, describe volumes, and use only its roles' state prefixes`, () => {
    const { json, spec } = synth(yaml);
    const roles = roleStatements(json);
    const profiles = resources(json, 'AWS::IAM::InstanceProfile');
    for (const p of Object.values(profiles)) {
      const profile = p.Properties.InstanceProfileName as string;
      const list = roles.get(p.Properties.Roles[0].Ref)!;
      const users = spec.roles.filter((r) => (r.instanceProfile ?? spec.defaults.instanceProfile) === profile);
      const state = users.flatMap((r) => (r.stateS3 ? [r.stateS3] : []));
      const serves = spec.policyS3 && users.some((r) => r.name === spec.hub.replace(/-\d+$/, '')) ? spec.policyS3 : undefined;
      const expect = new Set(['ec2:CreateTags', 'ec2:DescribeVolumes']);
      if (state.length > 0) for (const a of NODE_CALLS['s3 sync']) expect.add(a);
      if (serves) for (const a of NODE_CALLS['s3 sync'].slice(0, 2)) expect.add(a);
      assert.deepEqual(actionsOf(list), [...expect].sort(), profile);
      const tag = withAction(list, 'ec2:CreateTags');
      assert.equal(tag.length, 1);
      assert.deepEqual(tag[0]!.resources, ['arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*']);
      assert.deepEqual(tag[0]!.conditions, {
        StringEquals: { 'aws:ARN': '${ec2:SourceInstanceARN}' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['fleet:converged', 'fleet:mounted'] },
      });
      const locations = [...state, ...(serves ? [serves] : [])];
      for (const s of withAction(list, 's3:ListBucket')) {
        const loc = locations.find((l) => s.resources[0] === `arn:\${AWS::Partition}:s3:::${l.bucket}`)!;
        assert.ok(loc, `ListBucket on ${s.resources[0]}`);
        assert.deepEqual(s.conditions, { StringLike: { 's3:prefix': [`${loc.prefix}/*`, `${loc.prefix}/`, loc.prefix] } });
      }
      for (const s of withAction(list, 's3:GetObject')) {
        assert.ok(s.resources.every((r) => locations.some((l) => r === `arn:\${AWS::Partition}:s3:::${l.bucket}/${l.prefix}/*`)), JSON.stringify(s.resources));
      }
      for (const s of withAction(list, 's3:PutObject')) {
        assert.deepEqual(s.resources, state.map((l) => `arn:\${AWS::Partition}:s3:::${l.bucket}/${l.prefix}/*`), 'writes only the state prefixes, never the policy');
      }
    }
    assert.ok(Object.keys(profiles).length > 0);
  });
}
