// --leave-running leaves the original running and untouched; --leave-stopped (on dump and on
// restore) leaves the task stopped, and it carries on after SIGCONT.
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCryo } from '../helpers/cryo.ts';
import { expectedListing } from '../helpers/manifest.ts';
import { buildTarget, parseReport, requestReport, startTarget } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { PYTHON, assertUntouched, dumpOk, killAtEnd, lastLine, restoreDetached, sleep, spawnCryo, startCounter, taskStatus, waitDead, waitDumpedGone } from './e2e.ts';

test('dump --leave-running: the original keeps running, untouched, its output continues', async (t) => {
  const dir = tmpDir('cryo-e2e-leave-running', t);
  const c = await startCounter(dir, t);
  const before = await c.report();
  await dumpOk(c.target.pid, join(dir, 'img'), ['--leave-running']);
  assertUntouched(c.target.pid, 'the dumped original');
  assert.equal(taskStatus(c.target.pid)?.ppid, process.pid, 'still our child, never replaced');
  const after = await c.assertAdvancing(Number(before['count']), before['token']!);
  assert.ok(Number(after['count']) > Number(before['count']));
  // Still the process we spawned: it has not exited.
  assert.equal(await Promise.race([c.target.exited, sleep(50).then(() => 'running')]), 'running');
  assertUntouched(c.target.pid, 'the dumped original');

  // The images are a real checkpoint: once the original is gone, they restore it as it was dumped.
  process.kill(c.target.pid, 'SIGKILL');
  await c.target.exited;
  killAtEnd(t, c.target.pid, c.target.comm);
  await restoreDetached(join(dir, 'img'));
  assertUntouched(c.target.pid, 'the restored checkpoint');
  await c.assertAdvancing(Number(before['count']), before['token']!);
});

test('dump --leave-running of 24 MiB (the task goes on before the pages are hashed): the manifest matches, the images restore', async (t) => {
  const dir = tmpDir('cryo-e2e-leave-running-big', t);
  const c = await startCounter(dir, t, 24);
  const before = await c.report();
  const img = join(dir, 'img');
  await dumpOk(c.target.pid, img, ['--leave-running']);
  assertUntouched(c.target.pid, 'the dumped original');
  await c.assertAdvancing(Number(before['count']), before['token']!);
  // The pages were written from a snapshot after the task was let go, and hashed, still before
  // the dump succeeded.
  const manifest = JSON.parse(readFileSync(join(img, 'manifest.json'), 'utf8')) as { files: Record<string, unknown> };
  const pages = readFileSync(join(img, 'pages-1.img'));
  assert.ok(pages.length >= 16 << 20, `pages-1.img is only ${pages.length} bytes`);
  assert.deepEqual(manifest.files['pages-1.img'], expectedListing(pages));
  assert.match(readFileSync(join(img, 'dump.log'), 'utf8'), /memory snapshot \d+ forked/);
  process.kill(c.target.pid, 'SIGKILL');
  await c.target.exited;
  killAtEnd(t, c.target.pid, c.target.comm);
  await restoreDetached(img);
  await c.assertAdvancing(Number(before['count']), before['token']!);
});

test('dump --leave-running without a snapshot, with a stage too small for the pages: the staged part comes first, the rest is written frozen, the images restore', async (t) => {
  const dir = tmpDir('cryo-e2e-leave-running-stage', t);
  const c = await startCounter(dir, t, 40);
  const before = await c.report();
  const img = join(dir, 'img');
  // CRYO_SNAPSHOT=0: the pages are copied while frozen, as for a task that can't be snapshot.
  await dumpOk(c.target.pid, img, ['--leave-running'], { env: { CRYO_STAGE_BYTES: String(20 << 20), CRYO_SNAPSHOT: '0' } });
  assert.doesNotMatch(readFileSync(join(img, 'dump.log'), 'utf8'), /memory snapshot/);
  assert.match(readFileSync(join(img, 'dump.log'), 'utf8'), /pages image of 20 MiB prepared/);
  assertUntouched(c.target.pid, 'the dumped original');
  await c.assertAdvancing(Number(before['count']), before['token']!);
  process.kill(c.target.pid, 'SIGKILL');
  await c.target.exited;
  killAtEnd(t, c.target.pid, c.target.comm);
  // The restored counter checks all 40 MiB of its pattern (mem=ok in its reports).
  await restoreDetached(img, ['--verify-images']);
  await c.assertAdvancing(Number(before['count']), before['token']!);
});

test('dump --leave-stopped: the original is left stopped, untraced, and continues after SIGCONT', async (t) => {
  const dir = tmpDir('cryo-e2e-dump-stopped', t);
  const c = await startCounter(dir, t);
  const before = await c.report();
  await dumpOk(c.target.pid, join(dir, 'img'), ['--leave-stopped']);
  const st = taskStatus(c.target.pid);
  assert.equal(st?.state, 'T', `state ${st?.state}, expected T (stopped)`);
  assert.equal(st?.tracerPid, 0, 'left stopped but still traced');
  process.kill(c.target.pid, 'SIGCONT');
  await c.assertAdvancing(Number(before['count']), before['token']!);
  assertUntouched(c.target.pid, 'the continued original');
});

test('restore --leave-stopped: the restored task is stopped, and continues after SIGCONT', async (t) => {
  const dir = tmpDir('cryo-e2e-restore-stopped', t);
  const c = await startCounter(dir, t);
  const before = await c.report();
  await dumpOk(c.target.pid, join(dir, 'img'));
  await waitDumpedGone(c.target);
  await restoreDetached(join(dir, 'img'), ['--leave-stopped']);
  const st = taskStatus(c.target.pid);
  assert.equal(st?.name, c.target.comm);
  assert.equal(st?.state, 'T', `state ${st?.state}, expected T (stopped)`);
  assert.equal(st?.tracerPid, 0);
  // Nothing runs while stopped.
  const lastCount = (): number => Number(parseReport(lastLine(c.log))['count']);
  const frozen = lastCount();
  await sleep(200);
  assert.equal(lastCount(), frozen, 'the stopped task kept counting');
  process.kill(c.target.pid, 'SIGCONT');
  const after = await c.assertAdvancing(Number(before['count']), before['token']!);
  assert.ok(Number(after['count']) >= frozen);
  assertUntouched(c.target.pid, 'the continued restored task');
});

/** The first word of each page of the restored stamper, read before it runs on. */
function stamps(pid: number, addr: bigint, pages: number): bigint[] {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const buf = Buffer.alloc(pages * 4096);
    assert.equal(readSync(fd, buf, 0, buf.length, addr), buf.length);
    return Array.from({ length: pages }, (_, i) => buf.readBigUInt64LE(i * 4096));
  } finally {
    closeSync(fd);
  }
}

test('dump --leave-running from a snapshot: frozen only to find the pages, the images hold one instant of a task that writes on, and the task sees no child', async (t) => {
  const dir = tmpDir('cryo-e2e-snapshot', t);
  const log = join(dir, 'stamper.log');
  const target = await startTarget([buildTarget('stamper'), log, '48'], { t });
  const img = join(dir, 'img');
  const d = await dumpOk(target.pid, img, ['--leave-running', '--json']);
  const dumpLog = readFileSync(join(img, 'dump.log'), 'utf8');
  const forked = /(\d+): memory snapshot (\d+) forked in [\d.]+ ms \(its copy (\d+) reaped by the task\)/.exec(dumpLog);
  assert.ok(forked, dumpLog);
  assert.equal(Number(forked[1]), target.pid);
  // The pages were written after the release (the stats' frozen time ends there), by the snapshot.
  const written = new RegExp(`${target.pid}: pages-1.img written from its snapshot ${forked[2]} \\((\\d+) bytes`).exec(dumpLog);
  assert.ok(written && Number(written[1]) >= 48 << 20, dumpLog);
  assert.ok(dumpLog.indexOf('written from its snapshot') > dumpLog.indexOf('memory dumped'));
  const stats = JSON.parse(d.stdout) as { frozen_time: number; memwrite_time: number };
  assert.ok(stats.memwrite_time > 0);
  // No trace in the task: no SIGCHLD, no child of any kind, nothing in its children list; the
  // snapshot and the copy are gone (a zombie of pid 1 at most).
  assertUntouched(target.pid, 'the dumped original');
  const r = parseReport(await requestReport(target.pid, log));
  assert.equal(r['sigchld'], '0', 'SIGCHLDs the task got');
  assert.equal(r['children'], 'none', 'a child the task could wait for');
  assert.equal(readFileSync(`/proc/${target.pid}/task/${target.pid}/children`, 'utf8').trim(), '');
  for (const pid of [Number(forked[2]), Number(forked[3])]) await waitDead(pid);

  // The images restore, stopped, to memory of one instant: one pass stamped up to some page.
  const addr = BigInt(`0x${r['addr']}`);
  const pages = Number(r['pages']);
  process.kill(target.pid, 'SIGKILL');
  await target.exited;
  killAtEnd(t, target.pid, 'stamper');
  await restoreDetached(img, ['--leave-stopped']);
  const s = stamps(target.pid, addr, pages);
  const steps = s.flatMap((v, i) => (i > 0 && v !== s[i - 1] ? [[s[i - 1]!, v] as const] : []));
  assert.ok(steps.length <= 1 && steps.every(([a, b]) => a === b + 1n), `stamps of ${pages} pages change at ${JSON.stringify(steps.map(([a, b]) => `${a}->${b}`).slice(0, 8))}`);
  assert.ok(s[0]! > 1n, 'it had stamped more than its first pass');
  process.kill(target.pid, 'SIGCONT');
  const after = parseReport(await requestReport(target.pid, log));
  assert.ok(BigInt(after['pass']!) >= s[0]!, `it goes on from the pass it was in (${after['pass']} after ${s[0]})`);
  const later = parseReport(await requestReport(target.pid, log));
  assert.ok(BigInt(later['pass']!) > BigInt(after['pass']!), 'it stamps on after the restore');
});

test('dump --leave-running of a task with memory a fork would not copy (MADV_WIPEONFORK): no snapshot, the pages are copied while frozen', async (t) => {
  const dir = tmpDir('cryo-e2e-no-snapshot', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('mmaps'), log, dir, 'wipeonfork'], { t });
  const img = join(dir, 'img');
  await dumpOk(target.pid, img, ['--leave-running']);
  assert.match(readFileSync(join(img, 'dump.log'), 'utf8'), /no memory snapshot: it has a mapping a fork does not copy \(VmFlags wf\)/);
  assertUntouched(target.pid, 'the dumped original');
  process.kill(target.pid, 'SIGKILL');
  await target.exited;
  killAtEnd(t, target.pid, 'mmaps');
  await restoreDetached(img);
  assert.equal(parseReport(await requestReport(target.pid, log))['all'], 'ok');
});

test('a --leave-running dump that fails once the snapshot is forked: the task runs on as before, without a child, and the snapshot is gone', async (t) => {
  const dir = tmpDir('cryo-e2e-snapshot-fail', t);
  const log = join(dir, 'stamper.log');
  const target = await startTarget([buildTarget('stamper'), log, '8'], { t });
  const img = join(dir, 'img');
  const r = await runCryo(['dump', '-t', String(target.pid), '-D', img, '--leave-running', '-v4', '-o', 'dump.log'], { env: { CRYO_FAIL_AT: 'memory' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /injected failure at stage memory/);
  const forked = /memory snapshot (\d+) forked in [\d.]+ ms \(its copy (\d+)/.exec(readFileSync(join(img, 'dump.log'), 'utf8'));
  assert.ok(forked, 'the failure came after the snapshot');
  for (const pid of [Number(forked[1]), Number(forked[2])]) await waitDead(pid);
  assertUntouched(target.pid, 'the task after the failed dump');
  const report = parseReport(await requestReport(target.pid, log));
  assert.equal(report['sigchld'], '0');
  assert.equal(report['children'], 'none');
  assert.equal(readFileSync(`/proc/${target.pid}/task/${target.pid}/children`, 'utf8').trim(), '');
  const later = parseReport(await requestReport(target.pid, log));
  assert.ok(BigInt(later['pass']!) > BigInt(report['pass']!), 'it stamps on');
});

test('cryo killed while it writes the pages from the snapshot: the task runs on, and the snapshot exits by itself', async (t) => {
  const dir = tmpDir('cryo-e2e-snapshot-sigkill', t);
  const log = join(dir, 'stamper.log');
  const target = await startTarget([buildTarget('stamper'), log, '1024'], { t, readyTimeoutMs: 30_000 });
  const img = join(dir, 'img');
  const cryo = spawnCryo(['dump', '-t', String(target.pid), '-D', img, '--leave-running', '-v4', '-o', 'dump.log'], t);
  const logPath = join(img, 'dump.log');
  const writing = (): RegExpExecArray | null => (existsSync(logPath) ? /memory snapshot (\d+) forked[^\n]*\n(?:.*\n)*?.*\1: helper thread \d+ writes the pages/.exec(readFileSync(logPath, 'utf8')) : null);
  const deadline = Date.now() + 20_000;
  while (!writing() && cryo.exitCode === null && Date.now() < deadline) await sleep(5);
  cryo.kill('SIGKILL');
  const end = await cryo.done;
  assert.equal(end.signal, 'SIGKILL', 'the dump finished before it could be killed: make the target bigger');
  const snapshot = Number(writing()?.[1]);
  assert.ok(snapshot > 0, readFileSync(logPath, 'utf8'));
  await waitDead(snapshot);
  assertUntouched(target.pid, 'the task after cryo was killed');
  const report = parseReport(await requestReport(target.pid, log));
  assert.equal(report['sigchld'], '0');
  assert.equal(report['children'], 'none');
});

// A subreaper in the dumped tree would adopt the orphaned snapshot and see it in wait(): such a
// tree is not snapshot (the pages are copied while frozen), and both processes run on.
const SUBREAPER_SCRIPT = `
import ctypes, os, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
if os.fork() == 0:
    while True:
        time.sleep(0.05)
print('ready', flush=True)
while True:
    time.sleep(0.05)
`;

test('--leave-running of a tree whose root is a child subreaper: no snapshot, both processes run on, and the images restore the tree', async (t) => {
  const dir = tmpDir('cryo-e2e-subreaper', t);
  const target = await startTarget([PYTHON, '-c', SUBREAPER_SCRIPT], { t });
  const children = (): string[] => readFileSync(`/proc/${target.pid}/task/${target.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  const [child] = children();
  assert.ok(child, 'the subreaper has its child');
  t.after(() => {
    try {
      process.kill(Number(child), 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  const img = join(dir, 'img');
  await dumpOk(target.pid, img, ['--leave-running']);
  const log = readFileSync(join(img, 'dump.log'), 'utf8');
  assert.match(log, new RegExp(`${target.pid}: no memory snapshot: it or a dumped ancestor is a child subreaper`));
  assert.match(log, new RegExp(`${child}: no memory snapshot: it or a dumped ancestor is a child subreaper`));
  assert.doesNotMatch(log, /memory snapshot \d+ forked/);
  assertUntouched(target.pid, 'the subreaper after the dump');
  assertUntouched(Number(child), 'its child after the dump');
  assert.deepEqual(children(), [child], 'no snapshot left for the subreaper to reap');
  // The pages copied while frozen make a real checkpoint of both.
  process.kill(Number(child), 'SIGKILL');
  process.kill(target.pid, 'SIGKILL');
  await target.exited;
  await waitDead(Number(child));
  await restoreDetached(img);
  killAtEnd(t, target.pid, target.comm);
  killAtEnd(t, Number(child), target.comm);
  await sleep(200);
  assertUntouched(target.pid, 'the restored subreaper');
  assertUntouched(Number(child), 'its restored child');
  assert.equal(taskStatus(Number(child))?.ppid, target.pid, 'the child restored under the subreaper');
});
