// Multi-threaded processes continue after dump + restore with all their threads, the same tids,
// and every thread making progress: Python threads, and C threads waiting on a mutex/condvar.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildTarget, parseReport, requestReport, startTarget, waitForFileLine } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { PYTHON, assertUntouched, lastLine, dumpOk, restoreDetached, sleep, taskStatus, taskTids, waitDumpedGone } from './e2e.ts';

// Three threads, each counting on its own; the main thread appends every 50 ms
//   main=TID tids=T1,T2,T3 counts=C1,C2,C3
const SCRIPT = `
import sys, threading, time
n = 3
counts = [0] * n
tids = [0] * n
def work(i):
    tids[i] = threading.get_native_id()
    while True:
        counts[i] += 1
        time.sleep(0.005)
for i in range(n):
    threading.Thread(target=work, args=(i,), daemon=True).start()
while 0 in tids:
    time.sleep(0.01)
log = open(sys.argv[1], 'a', buffering=1)
print('ready', flush=True)
while True:
    log.write('main=%d tids=%s counts=%s\\n' % (threading.get_native_id(), ','.join(map(str, tids)), ','.join(map(str, counts))))
    time.sleep(0.05)
`;

const nums = (s: string | undefined): number[] => (s ?? '').split(',').map(Number);

function assertAllAdvanced(before: number[], after: number[], what: string): void {
  assert.equal(after.length, before.length);
  after.forEach((c, i) => assert.ok(c > before[i]!, `${what} thread ${i}: count ${before[i]} -> ${c}`));
}

function assertThreadsLive(pid: number, tids: number[]): void {
  for (const tid of tids) {
    const st = taskStatus(pid, tid);
    assert.ok(st, `thread ${tid} is missing`);
    assert.ok(st.state === 'S' || st.state === 'R', `thread ${tid} in state ${st.state}`);
  }
}

test('python threads: same tids, every thread keeps counting after restore', async (t) => {
  const dir = tmpDir('cryo-e2e-pythreads', t);
  const log = join(dir, 'threads.log');
  const target = await startTarget([PYTHON, '-c', SCRIPT, log], { t });
  const first = parseReport(await waitForFileLine(log, (l) => l.startsWith('main=')));
  const tidsBefore = taskTids(target.pid);
  assert.equal(tidsBefore.length, 4, `expected main + 3 threads, got ${tidsBefore.join(',')}`);
  assert.deepEqual([target.pid, ...nums(first['tids'])].sort((a, b) => a - b), tidsBefore);

  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  const last = parseReport(lastLine(log)); // what the threads had counted when frozen

  await restoreDetached(join(dir, 'img'));
  assertUntouched(target.pid, 'restored python');
  assert.deepEqual(taskTids(target.pid), tidsBefore, 'the restored threads have other tids');
  assertThreadsLive(target.pid, tidsBefore);
  await sleep(300);
  const after = parseReport(lastLine(log));
  assert.equal(after['main'], String(target.pid));
  assert.equal(after['tids'], first['tids'], 'threads report other native ids');
  assertAllAdvanced(nums(last['counts']), nums(after['counts']), 'python');
  assert.deepEqual(taskTids(target.pid), tidsBefore);
});

test('C threads on a mutex/condvar: same tids, every worker keeps waking after restore', async (t) => {
  const dir = tmpDir('cryo-e2e-cthreads', t);
  const log = join(dir, 'threads.log');
  const target = await startTarget([buildTarget('threads'), log, '4'], { t });
  const before = parseReport(await requestReport(target.pid, log));
  const tidsBefore = taskTids(target.pid);
  assert.equal(tidsBefore.length, 5);

  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  await restoreDetached(join(dir, 'img'));
  assertUntouched(target.pid, 'restored threads');
  assert.deepEqual(taskTids(target.pid), tidsBefore, 'the restored threads have other tids');
  assertThreadsLive(target.pid, tidsBefore);

  const a = parseReport(await requestReport(target.pid, log));
  assert.equal(a['main'], String(target.pid));
  assert.equal(a['tids'], before['tids']);
  assert.ok(Number(a['gen']) > Number(before['gen']), 'the main thread is not waking the workers');
  await sleep(100);
  const b = parseReport(await requestReport(target.pid, log));
  assertAllAdvanced(nums(before['counts']), nums(a['counts']), 'C');
  assertAllAdvanced(nums(a['counts']), nums(b['counts']), 'C');
  assert.deepEqual(taskTids(target.pid), tidsBefore);
});
