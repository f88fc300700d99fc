// A large process writes its own pages into the pages image at dump, from a helper thread cryo
// starts in it: killed cryo, limits that make cryo copy the pages itself instead.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { assertUntouched, cryoOutput, dumpOk, restoreDetached, sleep, spawnCryo, startCounter, waitDumpedGone } from './e2e.ts';
import { tmpDir } from '../helpers/tmp.ts';

const threadsOf = (pid: number): string[] => readdirSync(`/proc/${pid}/task`);

/**
 * Waits until the dump's log says the helper thread writes the pages — the task's own threads are
 * then put back (while the helper is being started, the leader is in the middle of an injected
 * clone3, the same short window as every injected syscall) — and the helper is there.
 */
async function helperWriting(pid: number, log: string, cryo: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  const writing = (): boolean => existsSync(log) && /helper thread \d+ writes the pages/.test(readFileSync(log, 'utf8'));
  while (!writing() && cryo.exitCode === null && Date.now() < deadline) await sleep(1);
  assert.ok(writing(), 'the dump ended (or took too long) before the helper wrote the pages');
  assert.equal(threadsOf(pid).length, 2, 'the helper thread is in the task');
}

test('cryo killed while the task writes its pages: the helper thread exits by itself, the task runs on', async (t) => {
  const dir = tmpDir('cryo-e2e-helper-kill', t);
  const c = await startCounter(dir, t, 1024); // 1 GiB: the helper writes for a while
  const before = await c.report();
  const pid = c.target.pid;
  assert.deepEqual(threadsOf(pid), [String(pid)]);
  const cryo = spawnCryo(['dump', '-t', String(pid), '-D', join(dir, 'img'), '-v4', '-o', 'dump.log'], t);
  await helperWriting(pid, join(dir, 'img', 'dump.log'), cryo);
  cryo.kill('SIGKILL');
  assert.equal((await cryo.done).signal, 'SIGKILL');
  for (let i = 0; i < 200 && threadsOf(pid).length > 1; i++) await sleep(10);
  assert.deepEqual(threadsOf(pid), [String(pid)], 'the helper thread is gone');
  assertUntouched(pid, 'the counter after cryo was killed');
  const after = await c.assertAdvancing(Number(before['count']), before['token']!);
  assert.equal(after['mem'], 'ok');
});

test('SIGTERM while the task writes its pages: the dump stops after them, exit 130, the task runs on as it was', async (t) => {
  const dir = tmpDir('cryo-e2e-helper-term', t);
  const c = await startCounter(dir, t, 512);
  const before = await c.report();
  const pid = c.target.pid;
  const fds = readdirSync(`/proc/${pid}/fd`).sort();
  const img = join(dir, 'img');
  const cryo = spawnCryo(['dump', '-t', String(pid), '-D', img, '-v4', '-o', 'dump.log'], t);
  await helperWriting(pid, join(img, 'dump.log'), cryo);
  cryo.kill('SIGTERM');
  assert.equal((await cryo.done).code, 130);
  assert.match(cryoOutput(cryo), /cancelled by SIGTERM: the tasks run on as before/);
  assert.equal(existsSync(join(img, 'manifest.json')), false, 'no manifest: not a complete dump');
  assert.deepEqual(threadsOf(pid), [String(pid)], 'the helper thread is gone');
  assert.deepEqual(readdirSync(`/proc/${pid}/fd`).sort(), fds, 'the image fd is closed again');
  assertUntouched(pid, 'the counter after the cancelled dump');
  await c.assertAdvancing(Number(before['count']), before['token']!);
});

test('the task\'s writes failing (CRYO_FAIL_AT=task-write: a bad fd) has cryo write the rest; the dump restores', async (t) => {
  const dir = tmpDir('cryo-e2e-task-write-fails', t);
  const c = await startCounter(dir, t, 96); // three pieces: the second write fails
  const before = await c.report();
  const img = join(dir, 'img');
  await dumpOk(c.target.pid, img, [], { env: { CRYO_TASK_WRITE_BYTES: '4096', CRYO_FAIL_AT: 'task-write' } });
  const log = readFileSync(join(img, 'dump.log'), 'utf8');
  assert.match(log, /pwritev in the task failed with EBADF: cryo wrote the rest of its pages itself/);
  const wrote = /the task wrote (\d+) bytes of pages in \d+ pwritev calls \([\d.]+ ms\); cryo copied (\d+)/.exec(log);
  assert.ok(wrote && Number(wrote[1]) > 0 && Number(wrote[2]) > 64 << 20, `the task wrote the first piece, cryo the rest: ${wrote?.[0]}`);
  await waitDumpedGone(c.target);
  await restoreDetached(img);
  const after = await c.report();
  assert.equal(after['mem'], 'ok');
  assert.equal(after['token'], before['token']);
});

test('a task whose file size limit is below its pages: cryo copies them, the task gets no SIGXFSZ', async (t) => {
  const dir = tmpDir('cryo-e2e-fsize', t);
  const c = await startCounter(dir, t, 8);
  const pid = c.target.pid;
  execFileSync('prlimit', ['--pid', String(pid), '--fsize=1048576:unlimited']);
  const before = await c.report();
  const img = join(dir, 'img');
  await dumpOk(pid, img, ['--leave-running'], { env: { CRYO_TASK_WRITE_BYTES: '4096' } });
  const log = readFileSync(join(img, 'dump.log'), 'utf8');
  assert.match(log, /cryo copies the pages: its file size limit \(RLIMIT_FSIZE 1048576\)/);
  assert.doesNotMatch(log, /the task wrote/);
  assertUntouched(pid, 'the counter after the dump');
  await c.assertAdvancing(Number(before['count']), before['token']!);
});

const MEMCG_ROOT = '/sys/fs/cgroup/memory';

/** Moves `pid` into a new memory cgroup (v1) limited to `limit` bytes, until the test ends; false without one. */
function inMemcg(t: TestContext, pid: number, limit: number): boolean {
  if (!existsSync(join(MEMCG_ROOT, 'memory.limit_in_bytes'))) {
    t.skip('no cgroup v1 memory controller at /sys/fs/cgroup/memory');
    return false;
  }
  const own = readFileSync(`/proc/${pid}/cgroup`, 'utf8').match(/^\d+:memory:(.*)$/m)?.[1] ?? '/';
  const group = join(MEMCG_ROOT, own, `cryo-test-${process.pid}-${pid}`);
  mkdirSync(group);
  t.after(() => {
    // Back to where it was, so the group can go.
    try {
      writeFileSync(join(MEMCG_ROOT, own, 'cgroup.procs'), String(pid));
    } catch {
      /* gone already */
    }
    rmdirSync(group);
  });
  writeFileSync(join(group, 'memory.limit_in_bytes'), String(limit));
  writeFileSync(join(group, 'cgroup.procs'), String(pid));
  return true;
}

test('a task near its memory cgroup limit: cryo copies the pages, none are charged to it', async (t) => {
  const dir = tmpDir('cryo-e2e-memcg', t);
  const c = await startCounter(dir, t, 8);
  const pid = c.target.pid;
  if (!inMemcg(t, pid, 48 << 20)) return;
  const img = join(dir, 'img');
  await dumpOk(pid, img, [], { env: { CRYO_TASK_WRITE_BYTES: '4096' } });
  assert.match(readFileSync(join(img, 'dump.log'), 'utf8'), /cryo copies the pages: its memory cgroup has \d+ MiB left below its limit/);
  await waitDumpedGone(c.target);
  await restoreDetached(img);
  const after = await c.report();
  assert.equal(after['mem'], 'ok');
});

test('dump --leave-running of a task near its memory cgroup limit: no snapshot (the copies its writes make could hit the limit), the pages copied while frozen, the images restore', async (t) => {
  const dir = tmpDir('cryo-e2e-memcg-R', t);
  const c = await startCounter(dir, t, 24);
  const pid = c.target.pid;
  if (!inMemcg(t, pid, 64 << 20)) return;
  const before = await c.report();
  const img = join(dir, 'img');
  await dumpOk(pid, img, ['--leave-running']);
  assert.match(readFileSync(join(img, 'dump.log'), 'utf8'), new RegExp(`${pid}: no memory snapshot: its memory cgroup has \\d+ MiB left, copies of its \\d+ MiB may be needed`));
  assertUntouched(pid, 'the dumped original');
  await c.assertAdvancing(Number(before['count']), before['token']!);
  process.kill(pid, 'SIGKILL');
  await waitDumpedGone(c.target);
  await restoreDetached(img);
  await c.assertAdvancing(Number(before['count']), before['token']!);
});
