import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStatus, readStatus } from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';

test('status of the capture process', () => {
  const s = parseStatus(fixture('proc/status-capture.txt'));
  assert.equal(s.name, 'a) (b c');
  assert.equal(s.state, 'S');
  assert.deepEqual([s.tgid, s.pid, s.ppid, s.tracerPid, s.threads], [5811, 5811, 5802, 0, 2]);
  assert.deepEqual(s.uid, [0, 0, 0, 0]);
  assert.deepEqual(s.gid, [0, 0, 0, 0]);
  assert.deepEqual(s.groups, []);
  assert.equal(s.sigPnd, 0n);
  assert.equal(s.shdPnd, 0n);
  // SIGUSR1 (10) and SIGRTMIN+2 (36) blocked
  assert.equal(s.sigBlk, (1n << 9n) | (1n << 35n));
  assert.equal(s.sigIgn, 0x1006n);
  assert.equal(s.sigCgt, 0x100000800n);
  assert.equal(s.capEff, 0x1fffeffffffn);
  assert.equal(s.capBnd, 0x1fffeffffffn);
  assert.equal(s.capAmb, 0n);
  assert.deepEqual([s.noNewPrivs, s.seccomp], [0, 0]);
  assert.equal(s.umask, 0o027);
  assert.deepEqual(s.nsPid, [5811]);
  assert.deepEqual(s.nsTgid, [5811]);
});

test('umask is optional (kernels before 4.7)', () => {
  const text = fixture('proc/status-self.txt').replace(/^Umask:.*\n/m, '');
  assert.equal(parseStatus(text).umask, undefined);
});

test('live: our own status', () => {
  const s = readStatus(process.pid);
  assert.equal(s.pid, process.pid);
  assert.equal(s.umask, process.umask());
});
