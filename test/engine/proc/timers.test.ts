import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuntimeError } from '../../../errors.ts';
import { parseTimers, readTimers } from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';

test('two posix timers, by id', () => {
  assert.deepEqual(parseTimers(fixture('proc/timers-capture.txt')), [
    { id: 0, signo: 12, sigval: 0x1234abcdn, notify: 'signal', notifyThreadId: false, notifyPid: 5811, clockId: 1 },
    { id: 1, signo: 12, sigval: 0x1234abcdn, notify: 'none', notifyThreadId: false, notifyPid: 5811, clockId: 0 },
  ]);
});

test('SIGEV_THREAD_ID, none, and garbage', () => {
  const t = parseTimers('ID: 3\nsignal: 34/0000000000000000\nnotify: signal/tid.77\nClockID: 7\n');
  assert.deepEqual(t[0]!.notifyThreadId, true);
  assert.deepEqual(t[0]!.notifyPid, 77);
  assert.deepEqual(parseTimers(''), []);
  assert.throws(() => parseTimers('ID: 3\nsignal: 34/0\n'), RuntimeError);
});

test('live: node has no posix timers', () => {
  assert.deepEqual(readTimers(process.pid), []);
});
