import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuntimeError } from '../../../errors.ts';
import { parseFdinfo, parseLockLine, parseLocks } from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';

test('/proc/locks: POSIX ranges, flock, OFD, a blocked waiter', () => {
  const l = parseLocks(fixture('proc/locks-capture.txt'));
  assert.equal(l.length, 5);
  assert.deepEqual(l[0], { kind: 'OFDLCK', blocked: false, mandatory: false, type: 'READ', pid: -1, major: 0xfe, minor: 0, ino: 2146533, start: 0n, end: null });
  assert.deepEqual([l[1]!.kind, l[1]!.type, l[1]!.pid, l[1]!.end], ['FLOCK', 'WRITE', 12787, null]);
  assert.deepEqual([l[2]!.kind, l[2]!.type, l[2]!.start, l[2]!.end], ['POSIX', 'READ', 100n, null]);
  assert.deepEqual([l[3]!.type, l[3]!.start, l[3]!.end, l[3]!.blocked], ['WRITE', 10n, 29n, false]);
  assert.deepEqual([l[4]!.blocked, l[4]!.pid], [true, 12788]);
});

test('fdinfo lock: lines parse the same way', () => {
  const locks = parseFdinfo(fixture('proc/fdinfo-13.txt')).locks.map(parseLockLine);
  assert.deepEqual(locks.map((k) => [k.kind, k.type, k.start, k.end, k.ino]), [
    ['POSIX', 'WRITE', 10n, 29n, 2146528],
    ['POSIX', 'READ', 100n, null, 2146528],
  ]);
  assert.equal(parseLockLine(parseFdinfo(fixture('proc/fdinfo-11.txt')).locks[0]!).kind, 'FLOCK');
});

test('malformed lock lines', () => {
  assert.throws(() => parseLockLine('POSIX ADVISORY WRITE 1 fe:00:2 0 EOF'), RuntimeError);
  assert.throws(() => parseLockLine('1: POSIX ADVISORY WRITE 1 nodev 0 EOF'), RuntimeError);
  assert.throws(() => parseLockLine('1: POSIX ADVISORY WRITE x fe:00:2 0 EOF'), RuntimeError);
});
