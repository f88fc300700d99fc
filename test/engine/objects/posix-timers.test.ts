import assert from 'node:assert/strict';
import { test } from 'node:test';
import { armSpec, sigevent, sigevNotify, timerEntry } from '../../../engine/objects/posix-timers.ts';
import { parseTimers } from '../../../engine/proc/index.ts';
import { encodeMessage, decodeMessage } from '../../../engine/images/index.ts';

const PROC = 'ID: 3\nsignal: 36/0000000000003333\nnotify: signal/tid.77\nClockID: 1\nID: 2\nsignal: 35/0000000000002222\nnotify: none/pid.70\nClockID: -6\n';

function spec(isec: number, insec: number, vsec: number, vnsec: number): Buffer {
  const b = Buffer.alloc(32);
  [isec, insec, vsec, vnsec].forEach((v, i) => b.writeBigUInt64LE(BigInt(v), i * 8));
  return b;
}

test('sigev_notify from /proc/PID/timers: SIGEV_THREAD_ID is or-ed in', () => {
  const [none, tid] = parseTimers(PROC);
  assert.equal(sigevNotify(tid!), 4);
  assert.equal(sigevNotify(none!), 1);
});

test('posix_timer_entry: fields, negative clocks as uint32, thread id only for SIGEV_THREAD_ID; encodes', () => {
  const [none, tid] = parseTimers(PROC);
  const e = timerEntry(tid!, spec(0, 30_000_000, 0, 12_000_000), 2);
  assert.deepEqual(e, {
    it_id: 3, clock_id: 1, si_signo: 36, it_sigev_notify: 4, sival_ptr: 0x3333n, overrun: 2,
    isec: 0n, insec: 30_000_000n, vsec: 0n, vnsec: 12_000_000n, notify_thread_id: 77,
  });
  const n = timerEntry(none!, spec(0, 0, 999, 5), 0);
  assert.equal(n.clock_id, 0xfffffffa);
  assert.equal('notify_thread_id' in n, false);
  const back = decodeMessage('posix_timer_entry', encodeMessage('posix_timer_entry', e), 'test');
  assert.equal(Number(back.notify_thread_id), 77);
  assert.equal(BigInt(back.insec as bigint), 30_000_000n);
});

test('struct sigevent and the arming itimerspec', () => {
  const sev = sigevent({ sival_ptr: 0x3333n, si_signo: 36, it_sigev_notify: 4, notify_thread_id: 77 });
  assert.equal(sev.length, 64);
  assert.deepEqual([sev.readBigUInt64LE(0), sev.readInt32LE(8), sev.readInt32LE(12), sev.readInt32LE(16)], [0x3333n, 36, 4, 77]);
  // An expired periodic timer (0 left) restarts one interval on; a one-shot keeps its time left.
  assert.deepEqual(armSpec({ isec: 0n, insec: 20n, vsec: 0n, vnsec: 0n }), spec(0, 20, 0, 20));
  assert.deepEqual(armSpec({ isec: 0n, insec: 0n, vsec: 999n, vnsec: 5n }), spec(0, 0, 999, 5));
});
