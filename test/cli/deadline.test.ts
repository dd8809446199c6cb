/**
 * Nothing hangs (issue 9, item 6): every AWS call has a connection timeout and a deadline.
 * Against an endpoint that accepts connections and never answers, `ls`, `apply` and `upgrade`
 * fail with exit 1 and a message naming the endpoint, within the call deadline (20 s) — the
 * test's own timeouts are the bound; nothing here measures wall time.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { fleetProcess, fleetYaml, writeConfig } from './helpers.js';

let server: Server;
let endpoint = '';
const sockets = new Set<Socket>();
let accepted = 0;

before(async () => {
  // Accepts every connection, reads what it is sent, never writes a byte.
  server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  endpoint = `http://127.0.0.1:${addr.port}`;
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('ls, apply and upgrade against a silent endpoint fail with exit 1 naming the endpoint', async () => {
  const config = writeConfig(fleetYaml({ fleet: 'silent', zone: 'silent.example.com' }));
  const env = { AWS_ENDPOINT_URL: endpoint };
  // The three run at once: each is bounded by the 20 s call deadline, the child's timeout
  // (fleetProcess kills it and fails the test) by 60 s.
  const [ls, apply, upgrade] = await Promise.all([
    fleetProcess(['-c', config, 'ls'], { env, timeoutMs: 60_000 }),
    fleetProcess(['-c', config, 'apply', '--yes'], { env, timeoutMs: 60_000 }),
    fleetProcess(['-c', config, 'upgrade', 'web-01', '--type', 't3.medium', '--yes'], { env, timeoutMs: 60_000 }),
  ]);
  for (const [what, r] of [['ls', ls], ['apply', apply], ['upgrade', upgrade]] as const) {
    assert.equal(r.code, 1, `${what}: exit ${r.code}; stderr: ${r.stderr}`);
    assert.ok(r.stderr.includes(endpoint), `${what}: the message names the endpoint ${endpoint}: ${r.stderr}`);
    assert.match(r.stderr, /did not answer/, `${what}: says it got no answer: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /unexpected failure|\n\s+at /, `${what}: a failure with its reason, not a stack: ${r.stderr}`);
  }
  assert.ok(accepted >= 3, `the listener accepted the calls (${accepted})`);
});
