/**
 * The layering of DESIGN.md section 5, checked by dependency-cruiser (`npm run lint:deps`, run
 * by `npm test`). Each rule names the layer it protects and says why; a violation prints the
 * importing file, the imported one and the rule.
 *
 * The CLI's one door to the AWS adapters is src/cli/wiring.ts: the edge that builds the SDK
 * clients and the adapters from plain options (DESIGN.md section 6: wiring happens only at the
 * edge). Every other file under src/cli gets adapters through the deps object wiring.ts builds,
 * never by importing src/aws itself.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'aws-sdk-only-in-src-aws',
      comment: 'Only the adapters in src/aws import the AWS SDK (@aws-sdk/*, @smithy/*): one adapter per service maps SDK shapes and AWS error codes to ours.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/aws/' },
      to: { path: '(^|/)node_modules/@(aws-sdk|smithy)/' },
    },
    {
      name: 'plan-is-pure',
      comment: 'src/plan is the pure core: it plans from plain data and imports no ops, aws, coord, cli or sim (no I/O, no clock, no randomness).',
      severity: 'error',
      from: { path: '^src/plan/' },
      to: { path: '^src/(ops|aws|coord|cli|sim)/' },
    },
    {
      name: 'plan-no-io-modules',
      comment: 'src/plan does no I/O: no node:fs, node:net, node:http(s), node:child_process, (node:crypto stays allowed: hashing is deterministic; randomness comes in as an rng argument).',
      severity: 'error',
      from: { path: '^src/plan/' },
      to: { dependencyTypes: ['core'], path: '^(node:)?(fs|fs/promises|net|http|https|http2|child_process|dgram|dns|worker_threads|cluster)$' },
    },
    {
      name: 'cli-reaches-aws-only-through-wiring',
      comment: 'src/cli gets adapters from the deps object; only src/cli/wiring.ts (the edge that builds clients and adapters) imports src/aws.',
      severity: 'error',
      from: { path: '^src/cli/', pathNot: '^src/cli/wiring\\.ts$' },
      to: { path: '^src/aws/' },
    },
    {
      name: 'ops-not-cli',
      comment: 'src/ops flows are called by the CLI, the chaos job and the Lambda alike: they must not depend on the CLI.',
      severity: 'error',
      from: { path: '^src/ops/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'ops-not-aws-adapters',
      comment: 'src/ops acts through ports (src/ports.ts) wired at the edge, never through an AWS adapter (the tag vocabulary lives in src/tags.ts).',
      severity: 'error',
      from: { path: '^src/ops/' },
      to: { path: '^src/aws/' },
    },
    {
      name: 'core-not-edges',
      comment: 'Nothing below the edges imports the CLI or the local cloud: src/cli and src/sim are leaves of the import graph (test/ and scripts/ may import them).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|sim)/' },
      to: { path: '^src/(cli|sim)/' },
    },
    {
      name: 'no-cycles',
      comment: 'No import cycles anywhere in src: a cycle means two modules are one; split out what they share (ops/swap.ts, ops/journal.ts).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      comment: 'Every import resolves (a typo or a package missing from package.json).',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'] },
    moduleSystems: ['es6', 'cjs'],
  },
};
