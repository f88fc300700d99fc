// Failure safety: a dump that fails — a missing pid, an unsupported fd, an injected failure at
// any stage, cryo killed with SIGKILL midway — leaves the task running exactly as before; a
// restore onto a pid in use is refused, naming the holder.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCryo } from '../helpers/cryo.ts';
import { startTarget, waitForFileLine } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { PYTHON, assertUntouched, dumpOk, killAtEnd, restoreDetached, sleep, spawnCryo, startCounter, taskStatus, taskTids, unusedPid, waitDumpedGone, type Counter } from './e2e.ts';

const STAGES = ['seized', 'injecting', 'collected', 'fds', 'memory', 'images'] as const;

test('dump of a pid that does not exist: exit 2, "no process"', async () => {
  const pid = unusedPid();
  const r = await runCryo(['dump', '-t', String(pid), '-D', tmpDir('cryo-e2e-nopid')]);
  assert.equal(r.code, 2, `exit ${r.code}:\n${r.stderr}`);
  assert.match(r.stderr, /no process/i);
  assert.ok(r.stderr.includes(String(pid)), `the error does not name pid ${pid}:\n${r.stderr}`);
});

test('dump of a kernel thread, or of an ancestor of cryo (the tree would hold cryo itself): exit 2 saying so, and nothing seized', async () => {
  const kthread = await runCryo(['dump', '-t', '2', '-D', tmpDir('cryo-e2e-kthread')]);
  assert.equal(kthread.code, 2, kthread.stderr);
  assert.match(kthread.stderr, /pid 2 \(kthreadd\) is a kernel thread/);
  // This test process is cryo's parent.
  const ancestor = await runCryo(['dump', '-R', '-t', String(process.pid), '-D', tmpDir('cryo-e2e-ancestor')]);
  assert.equal(ancestor.code, 2, ancestor.stderr);
  assert.match(ancestor.stderr, new RegExp(`pid ${process.pid} \\(.*\\) is an ancestor of cryo \\(\\d+\\): the tree to dump would hold cryo itself`));
  assert.match(ancestor.stderr, /hint: run cryo from outside that tree/);
  assert.equal(taskStatus(process.pid)?.tracerPid, 0);
});

// A counter that also holds an established TCP connection (to itself), which cryo refuses
// without --tcp-established.
const TCP_SCRIPT = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(('127.0.0.1', 0))
s.listen()
c = socket.create_connection(s.getsockname())
a, _ = s.accept()
log = open(sys.argv[1], 'a', buffering=1)
print('fd', c.fileno(), flush=True)
print('ready', flush=True)
n = 0
while True:
    n += 1
    log.write(f'count={n}\\n')
    time.sleep(0.02)
`;

test('dump of a task holding an established TCP connection: exit 4 naming pid, fd and socket:, task untouched', async (t) => {
  const dir = tmpDir('cryo-e2e-tcp', t);
  const log = join(dir, 'tcp.log');
  const target = await startTarget([PYTHON, '-c', TCP_SCRIPT, log], { t });
  const fd = /^fd (\d+)$/m.exec(target.output())?.[1];
  assert.ok(fd, target.output());
  const r = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'img')]);
  assert.equal(r.code, 4, `exit ${r.code}:\n${r.stderr}`);
  assert.ok(r.stderr.includes(String(target.pid)), `the error does not name pid ${target.pid}:\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`\\bfd ?${fd}\\b`), `the error does not name fd ${fd}:\n${r.stderr}`);
  assert.match(r.stderr, /socket:/);
  assertUntouched(target.pid, 'the TCP holder');
  const now = Number(readFileSync(log, 'utf8').trimEnd().split('\n').at(-1)?.slice('count='.length));
  await waitForFileLine(log, (l) => Number(l.slice('count='.length)) > now + 3, 3000, { since: readFileSync(log).length });
  assertUntouched(target.pid, 'the TCP holder');
});

for (const stage of STAGES) {
  test(`CRYO_FAIL_AT=${stage}: the dump fails and the task runs on as before`, async (t) => {
    const dir = tmpDir(`cryo-e2e-fail-${stage}`, t);
    const c = await startCounter(dir, t, 8);
    const before = await c.report();
    const r = await runCryo(['dump', '-t', String(c.target.pid), '-D', join(dir, 'img'), '-v4', '-o', 'dump.log'], { env: { CRYO_FAIL_AT: stage } });
    assert.notEqual(r.code, 0, `the dump did not fail at ${stage}`);
    assert.match(r.stderr, new RegExp(`injected failure at stage ${stage}`));
    assertUntouched(c.target.pid, `the counter after a failure at ${stage}`);
    const after = await c.assertAdvancing(Number(before['count']), before['token']!);
    const report = await c.report();
    assert.equal(report['mem'], 'ok');
    assert.ok(Number(report['count']) >= Number(after['count']));
    assertUntouched(c.target.pid, `the counter after a failure at ${stage}`);
  });
}

test('cryo killed with SIGKILL in the middle of a dump: the task runs on unharmed', async (t) => {
  const dir = tmpDir('cryo-e2e-sigkill', t);
  const c = await startCounter(dir, t, 1024); // 1 GiB to dump: long enough to be caught midway
  const before = await c.report();
  const img = join(dir, 'img');
  const cryo = spawnCryo(['dump', '-t', String(c.target.pid), '-D', img, '-v4', '-o', 'dump.log'], t);
  const logPath = join(img, 'dump.log');
  const collected = (): boolean => existsSync(logPath) && readFileSync(logPath, 'utf8').includes('task state collected');
  const deadline = Date.now() + 10_000;
  while (!collected() && cryo.exitCode === null && Date.now() < deadline) await sleep(5);
  if (!collected()) await sleep(150);
  cryo.kill('SIGKILL');
  const end = await cryo.done;
  assert.equal(end.signal, 'SIGKILL', 'the dump finished before it could be killed: make the target bigger');
  assertUntouched(c.target.pid, 'the counter after cryo was killed');
  const after = await c.assertAdvancing(Number(before['count']), before['token']!);
  assert.equal(after['mem'], 'ok');
  assertUntouched(c.target.pid, 'the counter after cryo was killed');
});

/** A task's blocked-signal mask, from its status. */
function sigBlk(pid: number): string {
  return /^SigBlk:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
}

// Points where the task is in the middle of cryo's injected syscalls (CRYO_KILL_AT, engine/faults.ts):
// between calls each thread waits with its own registers and signal mask, so a cryo that dies there
// leaves it running on. (Without that, each of these killed the task with a SIGSEGV.)
const KILL_POINTS = [
  { at: 'injecting', args: [] },
  { at: 'task-pages-setup', args: [] },
  { at: 'task-pages-helper', args: [] },
  { at: 'task-pages-teardown', args: [] },
  { at: 'snapshot-copy', args: ['--leave-running'] },
  // In the middle of a call (in-call:N, the N-th through the guard code): the thread set up at
  // cryo's code runs its calls and then puts itself back. (Before the guard code, the int3 or the
  // vDSO's code after the syscall killed the task.) The counter's dump makes ten such calls:
  // 1–4 inject() (the thread's queries, sigactions, itimers, brk…), 5–9 the pages image's fd and
  // the helper thread (9: its clone3), 10 the fd closed again; with --leave-running 5 is the
  // snapshot's fork, 6–8 in the forked copy (8: its clone of the snapshot), 9 the copy reaped.
  { at: 'in-call:1', args: [] },
  { at: 'in-call:5', args: [] },
  { at: 'in-call:9', args: [] },
  { at: 'in-call:10', args: [] },
  { at: 'in-call:5', args: ['--leave-running'] },
  { at: 'in-call:8', args: ['--leave-running'] },
] as const;

/** Dumps counter `c` with cryo killed at `at`, and checks that the counter runs on as before. */
async function assertSurvivesKill(c: Counter, dir: string, at: string, args: readonly string[]): Promise<void> {
  const pid = c.target.pid;
  const before = await c.report();
  const mask = sigBlk(pid);
  // CRYO_TASK_WRITE_BYTES: the 8 MiB counter writes its own pages (a helper thread in it).
  const r = await runCryo(['dump', '-t', String(pid), '-D', join(dir, 'img'), ...args, '-v4', '-o', 'dump.log'], {
    env: { CRYO_KILL_AT: at, CRYO_TASK_WRITE_BYTES: '4096' },
  });
  assert.equal(r.signal, 'SIGKILL', `cryo was not killed at ${at}: exit ${r.code}\n${r.stderr}`);
  for (let i = 0; i < 200 && taskTids(pid).length > 1; i++) await sleep(10);
  assert.deepEqual(taskTids(pid), [pid], 'no helper thread left');
  assertUntouched(pid, `the counter after cryo was killed at ${at}`);
  // Counting on first: a thread left mid-call puts its mask back itself once it runs again.
  const after = await c.assertAdvancing(Number(before['count']), before['token']!);
  assert.equal(after['mem'], 'ok');
  assert.equal(sigBlk(pid), mask, 'the signal mask is the task\'s own again');
  assertUntouched(pid, `the counter after cryo was killed at ${at}`);
}

for (const { at, args } of KILL_POINTS) {
  test(`cryo killed in the middle of its injected syscalls (CRYO_KILL_AT=${at}${args.length ? ` ${args.join(' ')}` : ''}): the task runs on with its registers and signal mask`, async (t) => {
    const dir = tmpDir(`cryo-e2e-kill-${at.replace(':', '-')}`, t);
    await assertSurvivesKill(await startCounter(dir, t, 8), dir, at, args);
  });
}

test('restore while the pid is in use: exit 5 naming the pid and its holder', async (t) => {
  const dir = tmpDir('cryo-e2e-pidtaken', t);
  const c = await startCounter(dir, t, 4);
  const before = await c.report();
  await dumpOk(c.target.pid, join(dir, 'img'), ['--leave-running']);
  const r = await runCryo(['restore', '-d', '-D', join(dir, 'img')]);
  assert.equal(r.code, 5, `exit ${r.code}:\n${r.stderr}`);
  assert.ok(r.stderr.includes(String(c.target.pid)), `the error does not name pid ${c.target.pid}:\n${r.stderr}`);
  assert.ok(r.stderr.includes(c.target.comm), `the error does not name the holder ${c.target.comm}:\n${r.stderr}`);
  assertUntouched(c.target.pid, 'the original');
  await c.assertAdvancing(Number(before['count']), before['token']!);
});

// A dump's injected calls end in a stop by a signal the task ignores (GUARD_CODE's tgkill), never
// an int3, whose forced SIGTRAP would reset an ignored SIGTRAP or take a pending one.
const SIGTRAP_SCRIPT = `
import os, signal, sys, time
if sys.argv[1] == 'ignore':
    signal.signal(signal.SIGTRAP, signal.SIG_IGN)
else:
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTRAP])
    os.kill(os.getpid(), signal.SIGTRAP)
print('ready', flush=True)
while True:
    time.sleep(0.05)
`;

const sigtrapBit = 1n << 4n;
const statusMask = (pid: number, field: string): bigint => BigInt(`0x${/^(\w+):\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`)) ?? '')?.[2] ?? '0'}`);

for (const how of ['ignore', 'pending'] as const) {
  test(`a task with SIGTRAP ${how === 'ignore' ? 'ignored' : 'blocked and pending'}: after a dump its SIGTRAP is as it was`, async (t) => {
    const dir = tmpDir(`cryo-e2e-sigtrap-${how}`, t);
    const target = await startTarget([PYTHON, '-c', SIGTRAP_SCRIPT, how], { t });
    const field = how === 'ignore' ? 'SigIgn' : 'ShdPnd';
    assert.equal(statusMask(target.pid, field) & sigtrapBit, sigtrapBit, `${field} before`);
    const img = join(dir, 'img');
    await dumpOk(target.pid, img, ['--leave-running']);
    assertUntouched(target.pid, 'the task after the dump');
    assert.equal(statusMask(target.pid, field) & sigtrapBit, sigtrapBit, `${field} after the dump`);
    if (how === 'pending') assert.equal(statusMask(target.pid, 'SigBlk') & sigtrapBit, sigtrapBit, 'still blocked');
  });
}

// Python ignores SIGPIPE and SIGXFSZ; this task ignores nothing and catches the three signals
// ignored by default, so cryo has no signal to stop its calls with and steps each syscall.
const NO_IGNORED_SCRIPT = `
import signal, time
for s in (signal.SIGPIPE, signal.SIGXFSZ):
    signal.signal(s, signal.SIG_DFL)
for s in (signal.SIGURG, signal.SIGWINCH, signal.SIGCHLD):
    signal.signal(s, lambda *a: None)
print('ready', flush=True)
while True:
    time.sleep(0.05)
`;

test('a task that ignores no signal: its calls are stepped one syscall at a time, it runs on as it was even if cryo is killed mid-call, and the stepped dump restores', async (t) => {
  const dir = tmpDir('cryo-e2e-guard-stepped', t);
  const target = await startTarget([PYTHON, '-c', NO_IGNORED_SCRIPT], { t });
  const pid = target.pid;
  assert.equal(statusMask(pid, 'SigIgn'), 0n);
  const caught = statusMask(pid, 'SigCgt');
  const img = join(dir, 'img');
  await dumpOk(pid, img, ['--leave-running']);
  assert.match(readFileSync(join(img, 'dump.log'), 'utf8'), /no ignored signal to stop injected calls with: each syscall is stepped/);
  assertUntouched(pid, 'the task after the dump');
  const r = await runCryo(['dump', '-t', String(pid), '-D', join(dir, 'img2'), '--leave-running'], { env: { CRYO_KILL_AT: 'in-call:2' } });
  assert.equal(r.signal, 'SIGKILL', `cryo was not killed: exit ${r.code}\n${r.stderr}`);
  // Left mid-call, the thread puts its mask back itself once it runs again.
  for (let i = 0; i < 200 && statusMask(pid, 'SigBlk') !== 0n; i++) await sleep(10);
  assertUntouched(pid, 'the task after cryo was killed mid-call');
  assert.equal(statusMask(pid, 'SigCgt'), caught, 'its handlers');
  assert.equal(statusMask(pid, 'SigBlk'), 0n, 'its signal mask');
  // What the stepped calls collected (its sigactions among them) restores as it was.
  process.kill(pid, 'SIGKILL');
  await waitDumpedGone(target);
  await restoreDetached(img);
  killAtEnd(t, pid, target.comm);
  assert.equal(taskStatus(pid)?.name, target.comm, 'restored');
  await sleep(200);
  assertUntouched(pid, 'the restored task');
  assert.equal(statusMask(pid, 'SigCgt'), caught, 'its handlers, restored');
  assert.equal(statusMask(pid, 'SigIgn'), 0n, 'nothing ignored, restored');
  assert.equal(statusMask(pid, 'SigBlk'), 0n, 'its signal mask, restored');
});

test('the counter\'s calls stop at a SIGURG it ignores by default, and it keeps no SIGURG, nor does its restored checkpoint', async (t) => {
  const dir = tmpDir('cryo-e2e-guard-sigurg', t);
  const c = await startCounter(dir, t, 8);
  const before = await c.report();
  const img = join(dir, 'img');
  await dumpOk(c.target.pid, img, ['--leave-running']);
  assert.match(readFileSync(join(img, 'dump.log'), 'utf8'), /injected calls stop at signal 23/);
  assertUntouched(c.target.pid, 'the counter after the dump');
  const urg = 1n << 22n;
  for (const f of ['SigPnd', 'ShdPnd', 'SigBlk']) assert.equal(statusMask(c.target.pid, f) & urg, 0n, f);
  process.kill(c.target.pid, 'SIGKILL');
  await c.target.exited;
  killAtEnd(t, c.target.pid, c.target.comm);
  await restoreDetached(img);
  assertUntouched(c.target.pid, 'the restored counter');
  await c.assertAdvancing(Number(before['count']), before['token']!);
  for (const f of ['SigPnd', 'ShdPnd', 'SigBlk']) assert.equal(statusMask(c.target.pid, f) & urg, 0n, `${f}, restored`);
});
