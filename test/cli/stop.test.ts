/** processIo's stop (signalStop): which signal exits at once, which one stops, and with what code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { signalStop, stopExitCode } from '../../src/cli/io.js';
import { StopError } from '../../src/errors.js';

function harness() {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  let err = '';
  const stop = signalStop(emitter as unknown as NodeJS.Process, { write: (s: string) => (err += s) }, (code) => exits.push(code));
  return { emitter, exits, stop, err: () => err };
}

test('exit codes: 128 + the signal number', () => {
  assert.equal(stopExitCode('SIGINT'), 130);
  assert.equal(stopExitCode('SIGTERM'), 143);
});

test('a command that does not stop safely exits at the first signal', () => {
  const h = harness();
  h.emitter.emit('SIGTERM');
  assert.deepEqual(h.exits, [143]);
  assert.equal(h.stop.signal.aborted, false);
});

test('a command that stops safely: the first signal aborts with a StopError, the second exits at once', () => {
  const h = harness();
  h.stop.handle('nothing new starts');
  h.emitter.emit('SIGINT');
  assert.deepEqual(h.exits, [], 'no exit at the first signal');
  assert.ok(h.stop.signal.aborted);
  assert.ok(h.stop.signal.reason instanceof StopError);
  assert.equal((h.stop.signal.reason as StopError).stop, 'SIGINT');
  assert.match(h.err(), /^fleet: SIGINT: stopping — nothing new starts \(SIGINT again exits at once\)\n$/);
  h.emitter.emit('SIGINT');
  assert.deepEqual(h.exits, [130]);
  assert.match(h.err(), /SIGINT again: exiting now/);
});
