// A task frozen inside a sleeping system call resumes it after restore: `sleep 1000` still
// sleeps and dies of SIGTERM; `restore` without -d waits for the task and exits with its status.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTarget } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { PYTHON, assertUntouched, cryoOutput, dumpOk, restoreDetached, sleep, spawnCryo, taskStatus, waitDead, waitDumpedGone } from './e2e.ts';

const NR_NANOSLEEP = 35;
const NR_RESTART_SYSCALL = 219;
const NR_CLOCK_NANOSLEEP = 230;

function syscallNr(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0]);
}

function assertSleepsInSyscall(pid: number): void {
  const st = taskStatus(pid);
  assert.ok(st, `pid ${pid} is gone`);
  assert.equal(st.state, 'S', `pid ${pid} is in state ${st.state}`);
  assert.equal(st.tracerPid, 0);
  const nr = syscallNr(pid);
  assert.ok([NR_NANOSLEEP, NR_CLOCK_NANOSLEEP, NR_RESTART_SYSCALL].includes(nr), `pid ${pid} is in syscall ${nr}, not a sleep`);
}

/** Waits until `pid` is `parent`'s child, no longer traced and not stopped: restored and resumed. */
async function waitResumedChildOf(pid: number, cryo: ReturnType<typeof spawnCryo>): Promise<void> {
  const parent = cryo.pid;
  const resumed = (): boolean => {
    const st = taskStatus(pid);
    return st !== undefined && st.ppid === parent && st.tracerPid === 0 && (st.state === 'S' || st.state === 'R');
  };
  for (let i = 0; i < 500 && !resumed() && cryo.exitCode === null; i++) await sleep(10);
  assert.ok(resumed(), `pid ${pid} never ran as a resumed child of cryo ${parent}: ${JSON.stringify(taskStatus(pid))}\n${cryoOutput(cryo)}`);
}

test('sleep 1000: restored, still sleeps in its syscall, and dies of SIGTERM', async (t) => {
  const dir = tmpDir('cryo-e2e-sleep', t);
  const target = await startTarget(['/bin/sleep', '1000'], { t, ready: 'sleeping' });
  assertSleepsInSyscall(target.pid);
  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);

  await restoreDetached(join(dir, 'img'));
  assert.equal(taskStatus(target.pid)?.name, 'sleep');
  assertSleepsInSyscall(target.pid);
  await sleep(300);
  assertSleepsInSyscall(target.pid); // did not return early from the restarted sleep

  process.kill(target.pid, 'SIGTERM');
  const { zombieStatus } = await waitDead(target.pid, 5000);
  // Seen as a zombie (before pid 1 reaps it): its wait status says SIGTERM, not a crash.
  if (zombieStatus !== undefined) assert.equal(zombieStatus & 0x7f, 15, `wait status ${zombieStatus}: not killed by SIGTERM`);
});

test('a stopped task (SIGSTOP) is dumped and restored stopped; SIGCONT resumes its sleep', async (t) => {
  const dir = tmpDir('cryo-e2e-stopped', t);
  const target = await startTarget(['/bin/sleep', '1000'], { t, ready: 'sleeping' });
  process.kill(target.pid, 'SIGSTOP');
  for (let i = 0; i < 100 && taskStatus(target.pid)?.state !== 'T'; i++) await sleep(10);
  await dumpOk(target.pid, join(dir, 'img'), ['-R']);
  assert.equal(taskStatus(target.pid)?.state, 'T', 'dump -R leaves a stopped task stopped');
  await dumpOk(target.pid, join(dir, 'img2'));
  await waitDumpedGone(target);

  await restoreDetached(join(dir, 'img2'));
  assert.equal(taskStatus(target.pid)?.state, 'T', 'restored stopped, as it was dumped');
  assert.equal(taskStatus(target.pid)?.tracerPid, 0);
  process.kill(target.pid, 'SIGCONT');
  for (let i = 0; i < 100 && taskStatus(target.pid)?.state !== 'S'; i++) await sleep(10);
  assertSleepsInSyscall(target.pid);
  process.kill(target.pid, 'SIGKILL');
  await waitDead(target.pid, 5000);
});

test('restore without -d waits for the restored sleep and exits with its status (0)', async (t) => {
  const dir = tmpDir('cryo-e2e-sleep2', t);
  const target = await startTarget(['/bin/sleep', '2'], { t, ready: 'sleeping' });
  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);

  const started = Date.now();
  const cryo = spawnCryo(['restore', '-D', join(dir, 'img')], t);
  // While cryo waits, the restored sleep is its child and sleeps.
  await waitResumedChildOf(target.pid, cryo);
  assert.equal(taskStatus(target.pid)?.ppid, cryo.pid, 'the restored task is not cryo\'s child');
  assertSleepsInSyscall(target.pid);
  const r = await cryo.done;
  assert.deepEqual(r, { code: 0, signal: null }, `cryo restore: ${cryoOutput(cryo)}`);
  assert.ok(Date.now() - started < 10_000);
  assert.equal(taskStatus(target.pid), undefined, 'the sleep is still there after cryo returned');
});

test('restore without -d exits with the restored task\'s own exit status', async (t) => {
  const dir = tmpDir('cryo-e2e-exit7', t);
  const script = 'import time\nprint("ready", flush=True)\ntime.sleep(2.5)\nraise SystemExit(7)\n';
  const target = await startTarget([PYTHON, '-c', script], { t });
  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  const cryo = spawnCryo(['restore', '-D', join(dir, 'img')], t);
  await waitResumedChildOf(target.pid, cryo);
  assertUntouched(target.pid, 'restored python');
  const r = await cryo.done;
  assert.deepEqual(r, { code: 7, signal: null }, `cryo restore: ${cryoOutput(cryo)}`);
});
