/**
 * TEMP(contract) placeholder for the chaos engineer's Lambda entry (issue: nightly chaos).
 * Only here so the CDK app has a bundle to point at; the real entry replaces this file.
 */
export async function handler(): Promise<{ ok: boolean }> {
  process.stdout.write(JSON.stringify({ level: 'info', event: 'chaos-placeholder', msg: 'placeholder night' }) + '\n');
  return { ok: true };
}
