/**
 * TEMP(contract) placeholder for the spot engineer's Lambda entry (issue: spot handler).
 * Only here so the CDK app has a bundle to point at; the real entry replaces this file.
 */
export async function handler(event: unknown): Promise<{ ok: boolean }> {
  process.stdout.write(JSON.stringify({ level: 'info', event: 'interruption-placeholder', msg: 'placeholder handler', detailType: (event as { 'detail-type'?: string })?.['detail-type'] }) + '\n');
  return { ok: true };
}
