// Process trees (zdtm: pstree, zombie00, session/pgid tests, fd sharing): every process comes back
// with its pid, parent, group and session; zombies stay zombies their parent can wait() for;
// fd tables and fs shared by CLONE_FILES|CLONE_FS stay shared; a pipe between two processes keeps
// its queued bytes. A dump that fails leaves the whole tree running as it was.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { readChildren, readStat } from '../../engine/proc/index.ts';
import { KCMP, kcmpFile, kcmpShares } from '../../native/index.ts';
import { runCryo } from '../helpers/cryo.ts';
import { buildTarget, fileSize, parseReport, requestReport, startTarget, waitForFileLine } from '../helpers/targets.ts';
import type { Target } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { assertUntouched, dumpOk, killAtEnd, restoreDetached, sleep, taskStatus, waitDead, waitDumpedGone } from './e2e.ts';

interface Tree {
  readonly target: Target;
  readonly log: string;
  readonly pids: Record<'root' | 'A' | 'B' | 'C' | 'S' | 'F' | 'Z' | 'K', number>;
  readonly queued: number;
  readonly sum: number;
}

async function startTree(dir: string, t: TestContext): Promise<Tree> {
  const log = join(dir, 'tree.log');
  const target = await startTarget([buildTarget('tree'), log], { t });
  const info = parseReport(target.output());
  const b = Number(info['b']);
  const [c] = readChildren(b, b);
  assert.ok(c, 'B has its child C');
  const pids = { root: target.pid, A: Number(info['a']), B: b, C: c, S: Number(info['s']), F: Number(info['f']), Z: Number(info['z']), K: Number(info['k']) };
  // Restored processes are not the test's children: kill them by pid when the test ends.
  for (const p of Object.values(pids)) killAtEnd(t, p, 'tree');
  return { target, log, pids, queued: Number(info['queued']), sum: Number(info['sum']) };
}

/** One report round: a line from every live process (A's pipe line too), by name. */
async function reportAll(tree: Tree): Promise<Map<string, Record<string, string>>> {
  const since = fileSize(tree.log);
  process.kill(tree.pids.root, 'SIGUSR1');
  const want = ['root', 'A', 'B', 'C', 'S', 'F'];
  const got = new Map<string, Record<string, string>>();
  await waitForFileLine(
    tree.log,
    (l) => {
      const r = parseReport(l);
      if (r['who'] && r['count'] !== undefined) got.set(r['who'], r);
      if (r['who'] === 'A' && r['pipe_bytes'] !== undefined) got.set('pipe', r);
      return want.every((w) => got.has(w)) && got.has('pipe');
    },
    5000,
    { since },
  );
  return got;
}

/** Exit status of a zombie from /proc (field 52), or undefined when it is not a zombie. */
function zombieStatus(pid: number): number | undefined {
  const st = readStat(pid);
  return st.state === 'Z' ? st.exitCode : undefined;
}

function assertShape(tree: Tree): void {
  const { root, A, B, C, S, F, Z, K } = tree.pids;
  const want: [number, number, number, number][] = [
    // pid, ppid, pgid, sid
    [A, root, root, root],
    [B, root, B, root],
    [C, B, B, root],
    [S, root, S, S],
    [F, root, root, root],
    [Z, root, root, root],
    [K, root, root, root],
  ];
  const rs = readStat(root);
  assert.deepEqual([rs.pgrp, rs.session], [root, root], 'the root leads its session and group');
  for (const [pid, ppid, pgid, sid] of want) {
    const st = readStat(pid);
    assert.deepEqual([st.ppid, st.pgrp, st.session], [ppid, pgid, sid], `pid ${pid} (${st.comm}): ppid, pgid, sid`);
    assert.equal(st.comm, 'tree');
  }
  assert.equal(zombieStatus(Z), 7 << 8, 'Z is a zombie that exited 7');
  assert.equal(zombieStatus(K), 9, 'K is a zombie killed by SIGKILL');
  assert.ok(kcmpShares(root, F, KCMP.FILES), 'root and F share one fd table');
  assert.ok(kcmpShares(root, F, KCMP.FS), 'root and F share one fs');
  assert.ok(!kcmpShares(root, A, KCMP.FILES), 'A has its own fd table');
  assert.equal(readdirSync(`/proc/${B}/task`).length, 2, 'B runs two threads');
  // fd 20 of every process is one open file description, at offset 5.
  for (const p of [A, B, C, S]) assert.equal(kcmpFile(root, 20, p, 20), 0, `fd 20 of ${p} is the root's description`);
  for (const p of [root, A, B, C, S, F]) assert.match(readFileSync(`/proc/${p}/fdinfo/20`, 'utf8'), /^pos:\s+5$/m, `offset of fd 20 in ${p}`);
}

test('a process tree comes back with pids, parents, groups, sessions, zombies and shared fd tables', async (t) => {
  const dir = tmpDir('cryo-e2e-tree', t);
  const tree = await startTree(dir, t);
  assertShape(tree);
  // (No report before the dump: A would drain the pipe.)
  await sleep(50);
  await dumpOk(tree.pids.root, join(dir, 'img'));
  await waitDumpedGone(tree.target);
  await restoreDetached(join(dir, 'img'));

  assertShape(tree);
  for (const p of ['root', 'A', 'B', 'C', 'S', 'F'] as const) assertUntouched(tree.pids[p], p);
  const after = await reportAll(tree);
  // The pipe from the root to A still held every byte queued before the dump.
  assert.equal(Number(after.get('pipe')!['pipe_bytes']), tree.queued, 'bytes queued in the pipe');
  assert.equal(Number(after.get('pipe')!['pipe_sum']), tree.sum, 'checksum of the queued bytes');
  for (const w of ['root', 'A', 'B', 'C', 'S', 'F']) {
    const r = after.get(w)!;
    assert.equal(Number(r['pid']), w === 'root' ? tree.pids.root : tree.pids[w as 'A'], `${w}'s pid`);
    assert.ok(Number(r['count']) > 3, `${w} counts on from where it was`);
  }
  await sleep(100);
  const later = await reportAll(tree);
  for (const w of ['root', 'A', 'B', 'C', 'S', 'F']) assert.ok(Number(later.get(w)!['count']) > Number(after.get(w)!['count']), `${w} keeps counting`);
  assert.ok(Number(later.get('B')!['thread_count']) > Number(after.get('B')!['thread_count']), "B's second thread keeps counting");

  // The root can still wait() for its zombies, and for a child it kills now.
  const since = fileSize(tree.log);
  process.kill(tree.pids.root, 'SIGUSR2');
  const reaped = parseReport(await waitForFileLine(tree.log, (l) => l.includes('reaped'), 5000, { since }));
  assert.deepEqual([reaped['z'], reaped['k'], reaped['a']], [String(7 << 8), '9', '15'], 'wait statuses of Z, K and A');
  assert.equal(taskStatus(tree.pids.Z), undefined, 'Z was reaped');
});

test('a dump of a tree that fails leaves every process running, zombies zombies and the pipe full', async (t) => {
  const dir = tmpDir('cryo-e2e-tree-fail', t);
  const tree = await startTree(dir, t);
  const r = await runCryo(['dump', '-t', String(tree.pids.root), '-D', join(dir, 'img'), '-v4', '-o', 'dump.log'], { env: { CRYO_FAIL_AT: 'memory' } });
  assert.notEqual(r.code, 0, 'the dump did not fail');
  assert.match(r.stderr, /injected failure at stage memory/);
  assertShape(tree);
  for (const p of ['root', 'A', 'B', 'C', 'S', 'F'] as const) assertUntouched(tree.pids[p], p);
  const after = await reportAll(tree);
  assert.equal(Number(after.get('pipe')!['pipe_bytes']), tree.queued, 'the pipe still holds every byte');
  assert.match(readFileSync(join(dir, 'img', 'dump.log'), 'utf8'), /Dumping FAILED/);
});

/** The shmem target (a parent and a child sharing anonymous memory), and its reports. */
async function startShmem(dir: string, t: TestContext): Promise<{ target: Target; child: number; report: () => Promise<Record<string, string>> }> {
  const log = join(dir, 'shmem.log');
  const target = await startTarget([buildTarget('shmem'), log], { t });
  const child = Number(parseReport(target.output())['child']);
  killAtEnd(t, target.pid, 'shmem');
  killAtEnd(t, child, 'shmem');
  return { target, child, report: async () => parseReport(await requestReport(target.pid, log)) };
}

/** After a restore: the pattern is intact, the counter did not go back, and the parent sees the child's increments. */
async function assertShared(shmem: { child: number; target: Target; report: () => Promise<Record<string, string>> }, before: Record<string, string>): Promise<void> {
  const a = await shmem.report();
  assert.equal(a['sum'], 'ok', 'the pattern in shared memory');
  assert.ok(Number(a['counter']) >= Number(before['counter']), 'the counter did not go back');
  await sleep(100);
  const b = await shmem.report();
  // Only the child increments the counter: the parent sees it move only if the memory is shared.
  assert.ok(Number(b['counter']) > Number(a['counter']) + 5, `the parent sees the child's increments (${a['counter']} -> ${b['counter']})`);
  assert.equal(readStat(shmem.child).ppid, shmem.target.pid);
}

test('MAP_SHARED|MAP_ANONYMOUS memory inherited over fork is shared again after restore', async (t) => {
  const dir = tmpDir('cryo-e2e-shmem', t);
  const shmem = await startShmem(dir, t);
  const before = await shmem.report();
  assert.equal(before['sum'], 'ok');
  await dumpOk(shmem.target.pid, join(dir, 'img'));
  await waitDumpedGone(shmem.target);
  await restoreDetached(join(dir, 'img'));
  await assertShared(shmem, before);
});

test('dump --leave-running of processes sharing anonymous memory: the shared object is read once, from the object, while frozen; each process\'s own pages come from its snapshot; the images restore the sharing', async (t) => {
  const dir = tmpDir('cryo-e2e-shmem-R', t);
  const shmem = await startShmem(dir, t);
  const { target, child } = shmem;
  const before = await shmem.report();
  const img = join(dir, 'img');
  await dumpOk(target.pid, img, ['-R']);
  const dumpLog = readFileSync(join(img, 'dump.log'), 'utf8');
  assert.equal(dumpLog.match(/: shared memory \/dev\/zero \(shmid 0x[0-9a-f]+\), 2097152 bytes, \d+ pages/g)?.length, 1, dumpLog);
  for (const pid of [target.pid, child]) assert.match(dumpLog, new RegExp(`${pid}: memory snapshot \\d+ forked`));
  assert.doesNotMatch(dumpLog, /no memory snapshot/);
  assert.ok(readdirSync(img).some((f) => /^pagemap-shmem-\d+\.img$/.test(f)), readdirSync(img).join(' '));
  for (const pid of [target.pid, child]) assertUntouched(pid);
  process.kill(child, 'SIGKILL');
  process.kill(target.pid, 'SIGKILL');
  await target.exited;
  await waitDead(child);
  await restoreDetached(img);
  await assertShared(shmem, before);
});

test('dump --leave-running of a tree: every process runs on untouched, zombies stay, the pipe keeps its bytes', async (t) => {
  const dir = tmpDir('cryo-e2e-tree-R', t);
  const tree = await startTree(dir, t);
  await dumpOk(tree.pids.root, join(dir, 'img'), ['-R']);
  assertShape(tree);
  for (const p of ['root', 'A', 'B', 'C', 'S', 'F'] as const) assertUntouched(tree.pids[p], p);
  const after = await reportAll(tree);
  assert.equal(Number(after.get('pipe')!['pipe_bytes']), tree.queued, 'the pipe still holds every byte (peeked, not read)');
  assert.equal(Number(after.get('pipe')!['pipe_sum']), tree.sum);
  // The images describe the whole tree.
  const pstree = JSON.parse(await showJson(join(dir, 'img', 'pstree.img')));
  assert.deepEqual(
    (pstree.entries as { pid: number }[]).map((e) => e.pid).sort((a, b) => a - b),
    Object.values(tree.pids).sort((a, b) => a - b),
  );
});

async function showJson(file: string): Promise<string> {
  const r = await runCryo(['show', file]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}
