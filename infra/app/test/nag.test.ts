/** cdk-nag's AwsSolutions pack runs on the app and finds nothing unsuppressed; every suppression says why. */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { App } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';

import { buildFleetApp } from '../lib/app.js';
import { bundles, FULL, MINIMAL, spec, ZONE_ID } from './helpers.js';

const NAG = Match.stringLikeRegexp('AwsSolutions-');

for (const [name, yaml] of [['FULL', FULL], ['MINIMAL', MINIMAL]] as const) {
  test(`${name}: AwsSolutions reports no unsuppressed error or warning`, () => {
    const stack = buildFleetApp(new App(), spec(yaml), { hostedZoneId: ZONE_ID }, bundles());
    const notes = Annotations.fromStack(stack);
    const show = (list: { id: string; entry: { data?: unknown } }[]) => list.map((m) => `${m.id}: ${String(m.entry.data)}`).join('\n');
    assert.equal(show(notes.findError('*', NAG)), '');
    assert.equal(show(notes.findWarning('*', NAG)), '');
    // Nor any other synthesis warning or error (deprecations, CDK's own checks).
    assert.equal(show(notes.findError('*', Match.anyValue())), '');
  });
}

test('the pack is live: a queue added without encryption, TLS or a DLQ is reported', () => {
  const stack = buildFleetApp(new App(), spec(MINIMAL), { hostedZoneId: ZONE_ID }, bundles());
  new sqs.Queue(stack, 'Careless', { encryption: sqs.QueueEncryption.UNENCRYPTED });
  const ids = Annotations.fromStack(stack).findError('/fleet-tiny/Careless/Resource', NAG).map((m) => String(m.entry.data).split(':')[0]);
  assert.deepEqual(ids.sort(), ['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']);
});

test('every suppression carries a reason', () => {
  const stack = buildFleetApp(new App(), spec(FULL), { hostedZoneId: ZONE_ID }, bundles());
  const template = stack.node.root as App;
  const json = template.synth().getStackByName(stack.stackName).template as { Resources: Record<string, { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string; reason: string }[] } } }> };
  let n = 0;
  for (const [id, r] of Object.entries(json.Resources)) {
    for (const s of r.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
      n++;
      assert.ok(s.reason.length >= 40, `${id}: suppression of ${s.id} needs a reason (${JSON.stringify(s.reason)})`);
    }
  }
  assert.ok(n >= 5, `suppressions found (${n})`);
});
