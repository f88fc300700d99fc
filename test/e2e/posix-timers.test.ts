// POSIX timers, the parent-death signal and per-thread pending signals survive dump + restore:
// same timer ids, clocks and notifications, periodic timers keep firing (one of them at a given
// thread), a far one-shot keeps about its remaining time.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readTimers } from '../../engine/proc/index.ts';
import { critDecode, critSkip } from '../helpers/crit.ts';
import { buildTarget, parseReport, requestReport, startTarget } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { dumpOk, restoreDetached, sleep, waitDumpedGone } from './e2e.ts';

test('posix timers (ids, clocks, SIGEV_THREAD_ID, time left), pdeath signals and per-thread pending signals survive', async (t) => {
  const dir = tmpDir('cryo-posix-timers', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('posix_timers'), log], { t });
  const before = parseReport(await requestReport(target.pid, log));
  const timersBefore = readTimers(target.pid);
  assert.deepEqual(timersBefore.map((x) => x.id), [1, 2, 3]);
  const img = join(dir, 'img');
  await dumpOk(target.pid, img);
  await waitDumpedGone(target);
  await restoreDetached(img);

  assert.deepEqual(readTimers(target.pid), timersBefore, '/proc/PID/timers: ids, signals, values, notification, clocks');
  const after = parseReport(await requestReport(target.pid, log));
  assert.equal(after.ids, '1,2,3');
  assert.equal(after.ok, '1', 'timer_gettime works on every id');
  assert.equal(after.a_interval_ms, '20');
  assert.equal(after.c_interval_ms, '30');
  assert.equal(after.b_fired, '0', 'the one-shot timer did not fire');
  // Generous: the one-shot keeps its remaining time (~1000 s), less the time the dump took.
  const left = Number(after.b_left_ms);
  assert.ok(left <= Number(before.b_left_ms) && left > Number(before.b_left_ms) - 60_000, `one-shot: ${before.b_left_ms} → ${after.b_left_ms} ms left`);
  assert.equal(after.pdeath, before.pdeath, 'pdeath signal of the main thread');
  assert.equal(after.wpdeath, before.wpdeath, 'pdeath signal of the worker thread');
  assert.equal(after.wpending, before.wpending, 'signals pending for the worker thread only');
  assert.equal(after.tbad, '0', 'SIGEV_THREAD_ID signals go to the worker');

  await sleep(300);
  const later = parseReport(await requestReport(target.pid, log));
  assert.ok(Number(later.ticks) > Number(after.ticks), `the periodic timer keeps firing: ${after.ticks} → ${later.ticks}`);
  assert.ok(Number(later.tticks) > Number(after.tticks), `the thread timer keeps firing: ${after.tticks} → ${later.tticks}`);
  assert.equal(later.tbad, '0');
});

test('crit decodes the posix timers in the core image', { skip: critSkip }, async (t) => {
  const dir = tmpDir('cryo-posix-timers-crit', t);
  const target = await startTarget([buildTarget('posix_timers'), '-'], { t });
  const img = join(dir, 'img');
  await dumpOk(target.pid, img, ['--leave-running']);
  const core = await critDecode(join(img, `core-${target.pid}.img`));
  const posix = core.entries[0]!.tc.timers.posix as Record<string, unknown>[];
  assert.deepEqual(posix.map((p) => [p.it_id, p.clock_id, p.si_signo, p.it_sigev_notify]), [[1, 1, 34, 0], [2, 0, 35, 0], [3, 1, 36, 4]]);
  assert.equal(typeof posix[2]!.notify_thread_id, 'number');
});
