/**
 * After an upgrade, the fleet.yaml edit that keeps it: the line to change, with its location.
 * (Apply never replaces a healthy instance, but the next heal of a name launches what
 * fleet.yaml says.)
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { FleetSpec } from '../model.js';
import type { UpgradeChange } from '../plan/upgrade.js';
import { roleOf } from '../plan/shape.js';

function locate(file: string, path: string[]): { line: number; text: string } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  let node: unknown = doc.contents;
  for (const key of path.slice(0, -1)) {
    if (!isMap(node)) return undefined;
    node = node.get(key, true);
  }
  if (!isMap(node)) return undefined;
  const last = path[path.length - 1]!;
  const pair = node.items.find((p) => isScalar(p.key) && p.key.value === last);
  const range = pair && isScalar(pair.key) ? pair.key.range : isMap(node) ? node.range : undefined;
  if (!range) return undefined;
  const { line } = lc.linePos(range[0]);
  return { line, text: text.split('\n')[line - 1]?.trim() ?? '' };
}

export function suggestEdit(file: string, spec: FleetSpec, roleName: string, change: UpgradeChange, single?: string): string | undefined {
  const role = roleOf(spec, roleName);
  if (!role) return undefined;
  const lines: string[] = [];
  if (change.instanceType && change.instanceType !== role.instanceType) {
    const at = locate(file, ['roles', roleName, 'type']);
    const alts = [role.instanceType, ...role.alternativeTypes.filter((t) => t !== change.instanceType)];
    lines.push(`  ${file}:${at?.line ?? '?'}: roles.${roleName}.type: ${role.instanceType} -> ${change.instanceType}`);
    lines.push(`  roles.${roleName}.alternatives: [${alts.join(', ')}]`);
  }
  if (change.market && change.market !== role.market) {
    const at = locate(file, ['roles', roleName, 'market']);
    lines.push(`  ${file}:${at?.line ?? '?'}: roles.${roleName}.market: ${role.market} -> ${change.market}`);
  }
  if (change.imageId) {
    const at = locate(file, ['roles', roleName, 'image']) ?? locate(file, ['roles', roleName]);
    lines.push(`  ${file}:${at?.line ?? '?'}: roles.${roleName}.image: ${change.imageId}`);
  }
  if (lines.length === 0) return undefined;
  const head = single
    ? `${single} now differs from fleet.yaml; apply leaves it alone, but the next replacement of any ${roleName} name launches what fleet.yaml says. To make it the role's shape, edit:`
    : `fleet.yaml still says the old shape; apply leaves the upgraded names alone, but the next replacement of a ${roleName} name would launch the old one. To keep the upgrade, edit:`;
  return `${head}\n${lines.join('\n')}`;
}
