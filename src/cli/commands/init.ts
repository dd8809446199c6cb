/** `fleet init` rendering: the flow is ops/init.ts, the plan plan/init.ts. */
import type { InitStep } from '../../plan/init.js';

export function describeStep(s: InitStep, dryRun: boolean): string {
  const what = s.resource === 'hosted-zone' ? `hosted zone ${s.name}` : `journal bucket ${s.name}`;
  if (s.action === 'exists') return `${what}: exists${s.resource === 'hosted-zone' && s.id ? ` (${s.id})` : ''}, nothing to do`;
  if (dryRun) return `${what}: would create${s.resource === 'bucket' ? ` in ${s.region}` : ''}`;
  return `${what}: created${s.resource === 'hosted-zone' && s.id ? ` (${s.id})` : ''}`;
}
