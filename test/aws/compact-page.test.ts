/**
 * The listing-page scanner (src/aws/compact-page.ts), table-driven on documents shaped as EC2
 * and Route 53 send them: fields taken at their own depth only (a nested privateIpAddress of a
 * network interface is not the instance's), tags, entities, self-closing elements, pagination
 * tokens. End to end through the SDK it is exercised by every listing against the local cloud
 * (test/ops/observe-pacing.test.ts, test/cli/inventory.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeXmlText, parseDescribeInstancesPage, parseListRecordSetsPage, walkXml } from '../../src/aws/compact-page.js';
import { fromSdkInstance } from '../../src/aws/ec2.js';

const instanceXml = (id: string, extra = '') => `<item>
      <instanceId>${id}</instanceId>
      <imageId>ami-0123456789abcdef0</imageId>
      <instanceState><code>16</code><name>running</name></instanceState>
      <privateDnsName>ip-10-0-0-7.ec2.internal</privateDnsName>
      <instanceType>t3.medium</instanceType>
      <launchTime>2026-12-07T05:00:00.000Z</launchTime>
      <placement><availabilityZone>us-east-1b</availabilityZone><tenancy>default</tenancy></placement>
      <monitoring><state>disabled</state></monitoring>
      <subnetId>subnet-0aa00000000000001</subnetId>
      <privateIpAddress>10.0.0.7</privateIpAddress>
      <groupSet><item><groupId>sg-1</groupId><groupName>default</groupName></item></groupSet>
      <networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId><privateIpAddress>10.9.9.9</privateIpAddress>
        <tagSet><item><key>eni-tag</key><value>not the instance's</value></item></tagSet></item></networkInterfaceSet>
      <tagSet>
        <item><key>fleet:fleet</key><value>demo</value></item>
        <item><key>fleet:name</key><value>web-03</value></item>
        <item><key>note</key><value>a &amp; b &lt;c&gt; &#x41;&#66;</value></item>
        <item><key>empty</key><value/></item>
      </tagSet>${extra}
    </item>`;

test('DescribeInstances page: the fields fleet maps, each at its own depth; tags; entities; nextToken', () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r-1</requestId>
  <reservationSet>
    <item><reservationId>r-0a</reservationId><ownerId>123456789012</ownerId>
      <groupSet/>
      <instancesSet>${instanceXml('i-0aaa')}${instanceXml('i-0bbb', '<instanceLifecycle>spot</instanceLifecycle>')}</instancesSet>
    </item>
  </reservationSet>
  <nextToken>tok&amp;en==</nextToken>
</DescribeInstancesResponse>`;
  const page = parseDescribeInstancesPage(xml);
  assert.equal(page.nextToken, 'tok&en==');
  assert.equal(page.instances.length, 2);
  const [a, b] = page.instances;
  assert.deepEqual(a, {
    id: 'i-0aaa',
    state: 'running',
    type: 't3.medium',
    market: 'on-demand',
    az: 'us-east-1b',
    launchTime: '2026-12-07T05:00:00.000Z',
    subnetId: 'subnet-0aa00000000000001',
    privateIp: '10.0.0.7',
    imageId: 'ami-0123456789abcdef0',
    fleet: 'demo',
    name: 'web-03',
    tags: { 'fleet:fleet': 'demo', 'fleet:name': 'web-03', note: 'a & b <c> AB', empty: '' },
  });
  assert.equal(b!.market, 'spot');
  assert.equal(b!.id, 'i-0bbb');
});

test('DescribeInstances page: the same Instance as the SDK object mapped by fromSdkInstance', () => {
  const xml = `<DescribeInstancesResponse><reservationSet><item><instancesSet>${instanceXml('i-0ccc', '<instanceLifecycle>spot</instanceLifecycle><tagSet><item><key>x</key></item></tagSet>')}</instancesSet></item></reservationSet></DescribeInstancesResponse>`;
  const [scanned] = parseDescribeInstancesPage(xml).instances;
  const sdk = fromSdkInstance({
    InstanceId: 'i-0ccc',
    ImageId: 'ami-0123456789abcdef0',
    State: { Name: 'running', Code: 16 },
    InstanceType: 't3.medium',
    LaunchTime: new Date('2026-12-07T05:00:00.000Z'),
    Placement: { AvailabilityZone: 'us-east-1b' },
    SubnetId: 'subnet-0aa00000000000001',
    PrivateIpAddress: '10.0.0.7',
    InstanceLifecycle: 'spot',
    Tags: [
      { Key: 'fleet:fleet', Value: 'demo' },
      { Key: 'fleet:name', Value: 'web-03' },
      { Key: 'note', Value: 'a & b <c> AB' },
      { Key: 'empty', Value: '' },
      { Key: 'x' },
    ],
  });
  // A key without a value (the second tagSet of this document) is '' as the SDK's missing Value.
  assert.deepEqual(scanned, sdk);
});

test('DescribeInstances page: several reservations, an empty instancesSet between them, an instance without tags, an empty launch time, an empty page that still has a nextToken', () => {
  const res = (body: string) => `<item><reservationId>r-1</reservationId><ownerId>1</ownerId><groupSet><item><groupId>sg-1</groupId></item></groupSet>${body}</item>`;
  const xml = `<DescribeInstancesResponse>
  <reservationSet>
    ${res(`<instancesSet>${instanceXml('i-01')}</instancesSet>`)}
    ${res('<instancesSet/>')}
    ${res('<instancesSet>\n  <item>\n    <instanceId>i-02</instanceId>\n    <launchTime></launchTime>\n    <instanceState><code>0</code><name>pending</name></instanceState>\n  </item>\n</instancesSet>')}
  </reservationSet>
  <nextToken>next</nextToken>
</DescribeInstancesResponse>`;
  const page = parseDescribeInstancesPage(xml);
  assert.deepEqual(page.instances.map((i) => i.id), ['i-01', 'i-02']);
  assert.deepEqual(page.instances[1], { id: 'i-02', state: 'pending', type: '', market: 'on-demand', az: '', launchTime: '', tags: {} });
  assert.equal(page.nextToken, 'next');
  assert.deepEqual(parseDescribeInstancesPage('<DescribeInstancesResponse><reservationSet/><nextToken>more</nextToken></DescribeInstancesResponse>'), { instances: [], nextToken: 'more' });
});

test('DescribeInstances page: a launch time in another spelling is normalised; a long value with quotes and backslashes is copied exactly', () => {
  const xml = `<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-0ddd0000000000000</instanceId><launchTime>2026-12-07T05:00:00Z</launchTime><tagSet><item><key>q</key><value>a "quoted" \\ value that is long</value></item></tagSet></item></instancesSet></item></reservationSet></DescribeInstancesResponse>`;
  const [i] = parseDescribeInstancesPage(xml).instances;
  assert.equal(i!.launchTime, '2026-12-07T05:00:00.000Z');
  assert.equal(i!.state, 'pending');
  assert.equal(i!.tags['q'], 'a "quoted" \\ value that is long');
  assert.equal(i!.id, 'i-0ddd0000000000000');
});

test('DescribeInstances: the last page has no nextToken; an empty page has no instances', () => {
  assert.deepEqual(parseDescribeInstancesPage('<DescribeInstancesResponse><requestId>x</requestId><reservationSet/></DescribeInstancesResponse>'), { instances: [] });
  assert.deepEqual(parseDescribeInstancesPage('<DescribeInstancesResponse><reservationSet/><nextToken/></DescribeInstancesResponse>'), { instances: [] });
});

test('ListResourceRecordSets page: name, type, TTL, values; alias records have no values; the next start', () => {
  const xml = `<?xml version="1.0"?>
<ListResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
  <ResourceRecordSets>
    <ResourceRecordSet><Name>\\052.prod.example.com.</Name><Type>A</Type><TTL>60</TTL>
      <ResourceRecords><ResourceRecord><Value>10.0.0.1</Value></ResourceRecord><ResourceRecord><Value>10.0.0.2</Value></ResourceRecord></ResourceRecords>
    </ResourceRecordSet>
    <ResourceRecordSet><Name>txt.prod.example.com.</Name><Type>TXT</Type><TTL>300</TTL>
      <ResourceRecords><ResourceRecord><Value>"a &quot;quoted&quot; &amp; escaped"</Value></ResourceRecord></ResourceRecords>
    </ResourceRecordSet>
    <ResourceRecordSet><Name>alias.prod.example.com.</Name><Type>A</Type>
      <AliasTarget><HostedZoneId>Z1</HostedZoneId><DNSName>lb.example.com.</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget>
    </ResourceRecordSet>
  </ResourceRecordSets>
  <IsTruncated>true</IsTruncated>
  <NextRecordName>web-05.prod.example.com.</NextRecordName>
  <NextRecordType>A</NextRecordType>
  <MaxItems>300</MaxItems>
</ListResourceRecordSetsResponse>`;
  assert.deepEqual(parseListRecordSetsPage(xml), {
    sets: [
      { Name: '\\052.prod.example.com.', Type: 'A', TTL: 60, Values: ['10.0.0.1', '10.0.0.2'] },
      { Name: 'txt.prod.example.com.', Type: 'TXT', TTL: 300, Values: ['"a "quoted" & escaped"'] },
      { Name: 'alias.prod.example.com.', Type: 'A', Values: [] },
    ],
    isTruncated: true,
    nextRecordName: 'web-05.prod.example.com.',
    nextRecordType: 'A',
  });
  const last = parseListRecordSetsPage('<ListResourceRecordSetsResponse><ResourceRecordSets/><IsTruncated>false</IsTruncated><MaxItems>300</MaxItems></ListResourceRecordSetsResponse>');
  assert.deepEqual(last, { sets: [], isTruncated: false });
});

test('walkXml: an element the caller skips is jumped over whole, depth intact', () => {
  const seen: string[] = [];
  walkXml(
    '<a><skip><b>x</b><c><b>y</b></c></skip><skip/><d>z</d></a>',
    (n, d) => {
      seen.push(`open ${n}@${d}`);
      return n === 'skip';
    },
    (n, d, t) => seen.push(`leaf ${n}@${d}=${t()}`),
  );
  assert.deepEqual(seen, ['open a@1', 'open skip@2', 'open skip@2', 'leaf skip@2=', 'open d@2', 'leaf d@2=z']);
});

test('walkXml: comments, processing instructions, attributes, self-closing elements, depth', () => {
  const seen: string[] = [];
  walkXml(
    '<?xml version="1.0"?><!-- a <comment> --><a x="1"><b>t</b><c/><d y="2"><e>u &amp; v</e></d></a>',
    (n, d) => {
      seen.push(`open ${n}@${d}`);
    },
    (n, d, t) => seen.push(`leaf ${n}@${d}=${t()}`),
  );
  assert.deepEqual(seen, ['open a@1', 'open b@2', 'leaf b@2=t', 'open c@2', 'leaf c@2=', 'open d@2', 'open e@3', 'leaf e@3=u & v']);
});

const entities: [string, string][] = [
  ['plain', 'plain'],
  ['&amp;&lt;&gt;&quot;&apos;', `&<>"'`],
  ['&#65;&#x42;&#x1F600;', 'AB😀'],
  ['&unknown; &#xZZ;', '&unknown; &#xZZ;'],
];
for (const [input, want] of entities) {
  test(`decodeXmlText(${JSON.stringify(input)})`, () => assert.equal(decodeXmlText(input), want));
}
