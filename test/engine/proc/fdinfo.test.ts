import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuntimeError } from '../../../errors.ts';
import { parseFdinfo, readFdinfo } from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';

const fd = (n: number) => parseFdinfo(fixture(`proc/fdinfo-${n}.txt`));

test('common fields; flags are octal; locks', () => {
  const f = fd(12); // O_RDWR, posix-locked [10, 29], at 12345
  assert.equal(f.pos, 12345n);
  assert.equal(f.flags, 0o100002);
  assert.equal(f.mntId, 27);
  assert.equal(f.ino, 2146892);
  assert.deepEqual(f.locks, ['1: POSIX  ADVISORY  WRITE 5811 fe:00:2146892 10 29']);
  const l = fd(11);
  assert.equal(l.pos, 5n);
  assert.equal(l.flags, 0o102002); // O_APPEND
  assert.deepEqual(l.locks, ['1: FLOCK  ADVISORY  WRITE 5811 fe:00:2146890 0 EOF']);
});

test('eventfd', () => {
  const f = fd(3);
  assert.equal(f.eventfdCount, 42n);
  assert.equal(f.eventfdSemaphore, false);
  assert.equal(f.flags, 0o2004002); // O_CLOEXEC | O_NONBLOCK | O_RDWR
  assert.equal(f.fields['eventfd-id'], '1');
});

test('signalfd', () => {
  assert.equal(fd(4).sigmask, (1n << 9n) | (1n << 35n));
});

test('timerfd, relative and absolute', () => {
  const m = fd(5);
  assert.deepEqual([m.clockid, m.ticks, m.settimeFlags], [1, 0n, 0]);
  assert.deepEqual(m.itInterval, [1n, 500000000n]);
  assert.equal(m.itValue![0], 999n);
  const r = fd(6);
  assert.deepEqual([r.clockid, r.settimeFlags], [0, 1]);
  assert.deepEqual(r.itInterval, [0n, 0n]);
});

test('inotify watches', () => {
  const w = fd(7).inotify;
  assert.equal(w.length, 2);
  assert.deepEqual(
    { ...w[0]!, fhandle: undefined },
    { wd: 2, ino: 0x3f7e8, sdev: 0xfe00000, mask: 0xfff, ignoredMask: 0, fhandle: undefined },
  );
  assert.deepEqual(w[1]!.fhandle, { bytes: 8, type: 1, handle: '47c220000952cac5' });
});

test('epoll targets', () => {
  const e = fd(10).epoll;
  assert.deepEqual(e, [
    { tfd: 3, events: 0x80000019, data: 0xdeadbeefcafe1234n, pos: 0n, ino: 0x406, sdev: 0x10 },
    { tfd: 8, events: 0x1d, data: 7n, pos: 0n, ino: 0x2922, sdev: 0xf },
  ]);
});

test('a plain pipe has nothing extra', () => {
  const p = fd(8);
  assert.deepEqual([p.inotify, p.epoll, p.locks, p.eventfdCount, p.clockid], [[], [], [], undefined, undefined]);
});

test('missing or non-octal flags', () => {
  assert.throws(() => parseFdinfo('pos:\t0\nmnt_id:\t1\n'), RuntimeError);
  assert.throws(() => parseFdinfo('pos:\t0\nflags:\t09\nmnt_id:\t1\n'), RuntimeError);
});

test('live: fd 0 of this process', () => {
  assert.equal(typeof readFdinfo(process.pid, 0).flags, 'number');
});
