// zdtm-style state checks: each target sets up one kind of state, reports it, is dumped and
// restored, and must report the same state afterwards (and keep working).
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, existsSync, readFileSync, readdirSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readBuildId } from '../../engine/objects/build-id.ts';
import { runCryo } from '../helpers/cryo.ts';
import { buildTarget, parseReport, requestReport, startTarget } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';

async function dumpAndRestore(pid: number, images: string, restoreEnv?: Record<string, string>, dumpEnv?: Record<string, string>): Promise<void> {
  const d = await runCryo(['dump', '-t', String(pid), '-D', images, '-v4', '-o', 'dump.log'], { env: dumpEnv });
  assert.equal(d.code, 0, `dump failed: ${d.stderr}`);
  const r = await runCryo(['restore', '-D', images, '-d', '-v4', '-o', 'restore.log'], { env: restoreEnv });
  assert.equal(r.code, 0, `restore failed: ${r.stderr}`);
  assert.ok(existsSync(`/proc/${pid}`), 'restored with the same pid');
}

test('signal handlers, masks, pending signals, sigaltstack, itimer, umask, rlimit, cwd, comm survive', async (t) => {
  const dir = tmpDir('cryo-sigstate', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('sigstate'), log, dir], { t });
  const before = parseReport(await requestReport(target.pid, log));
  await dumpAndRestore(target.pid, join(dir, 'img'));
  const after = parseReport(await requestReport(target.pid, log));
  for (const k of Object.keys(before)) {
    if (k === 'alarms' || k === 'usr2s') continue;
    assert.equal(after[k], before[k], `${k} changed: ${before[k]} → ${after[k]}`);
  }
  // The itimer keeps firing after the restore.
  const later = parseReport(await requestReport(target.pid, log));
  assert.ok(Number(later.alarms) > Number(after.alarms) || Number(after.alarms) > Number(before.alarms), 'SIGALRMs keep coming');
});

test('regular files (offsets, O_APPEND, close-on-exec, shared offsets), char devices and a deleted file survive', async (t) => {
  const dir = tmpDir('cryo-files', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('files'), log, dir], { t });
  const before = parseReport(await requestReport(target.pid, log));
  await dumpAndRestore(target.pid, join(dir, 'img'));
  const after = parseReport(await requestReport(target.pid, log));
  for (const name of ['data', 'null', 'zero', 'urandom', 'ghost', 'cloexec', 'dup100']) assert.equal(after[name], before[name], `fd ${name}`);
  // log: same fd, flags and O_APPEND; its position grows with each report.
  assert.equal(after.log!.split('/').slice(0, 3).join('/'), before.log!.split('/').slice(0, 3).join('/'));
  assert.equal(after.ghost_content, before.ghost_content, 'deleted file content');
  assert.equal(after.data_ok, 'ok');
  assert.equal(after.zero_ok, 'ok');
  assert.equal(after.shared_ok, 'ok', 'dup()ed fds still share one offset');
  assert.ok(Number(after.logsize) > Number(before.logsize), 'the O_APPEND log keeps growing');
  assert.equal(existsSync(join(dir, 'ghost.txt')), false, 'the deleted file is deleted again');
});

test('files changed since the dump (a data file written, or gone) refuse the restore by name before any process is made; a write-only log may grow; put back, it restores', async (t) => {
  const dir = tmpDir('cryo-files-changed', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('files'), log, dir], { t });
  const img = join(dir, 'img');
  const d = await runCryo(['dump', '-t', String(target.pid), '-D', img]);
  assert.equal(d.code, 0, d.stderr);
  await target.exited;
  const data = join(dir, 'data.txt');
  appendFileSync(join(dir, 'log.txt'), 'written since the dump\n');
  renameSync(data, `${data}.away`);
  const gone = await runCryo(['restore', '-D', img, '-d']);
  assert.equal(gone.code, 1, gone.stderr);
  assert.match(gone.stderr, new RegExp(`files have changed since the dump:\\n  Can't open file ${data} on restore: ENOENT\\n`));
  renameSync(`${data}.away`, data);
  appendFileSync(data, 'more');
  const grown = await runCryo(['restore', '-D', img, '-d']);
  assert.equal(grown.code, 1, grown.stderr);
  assert.match(grown.stderr, new RegExp(`  File ${data} has bad size 4100 \\(expect 4096\\)\\n`));
  assert.doesNotMatch(grown.stderr, /log\.txt/, 'a write-only log may grow');
  assert.match(grown.stderr, /hint: a restore needs the files/);
  assert.equal(existsSync(`/proc/${target.pid}`), false, 'no process was made');
  truncateSync(data, 4096);
  const r = await runCryo(['restore', '-D', img, '-d']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(parseReport(await requestReport(target.pid, log)).data_ok, 'ok');
});

test('a program rebuilt since the dump (same size, another ELF build-id) refuses the restore, as CRIU\'s "has bad build-ID"; put back, it restores', async (t) => {
  const dir = tmpDir('cryo-build-id-changed', t);
  const exe = join(dir, 'counter');
  copyFileSync(buildTarget('counter'), exe);
  const log = join(dir, 'counter.log');
  const target = await startTarget([exe, log, '4'], { t });
  const img = join(dir, 'img');
  const d = await runCryo(['dump', '-t', String(target.pid), '-D', img]);
  assert.equal(d.code, 0, d.stderr);
  await target.exited;
  const original = readFileSync(exe);
  const id = readBuildId(exe)!;
  assert.ok(id, 'the test program has a build-id');
  const rebuilt = Buffer.from(original);
  const at = rebuilt.indexOf(id);
  rebuilt[at] = rebuilt[at]! ^ 0xff;
  writeFileSync(exe, rebuilt);
  const r = await runCryo(['restore', '-D', img, '-d']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`  File ${exe} has bad build-ID\\n`));
  assert.equal(existsSync(`/proc/${target.pid}`), false, 'no process was made');
  writeFileSync(exe, original);
  const ok = await runCryo(['restore', '-D', img, '-d']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(parseReport(await requestReport(target.pid, log))['count']);
});

// The second run has cryo write the second half of the pages (from another thread) while the
// task reads the first: half of every kind of mapping above lands on each side. The third has the
// task write its own pages into the image at dump (a helper thread in it), and cryo the PROT_NONE
// ones it can't read. The fourth finds the pages by reading the pagemap, as on a kernel without
// PAGEMAP_SCAN.
const HOW = { '': '', parallel: ', cryo filling half of the pages', 'task-writes': ', the task writing its pages at dump', 'pagemap-read': ', pages found without PAGEMAP_SCAN' } as const;
for (const variant of ['', 'parallel', 'task-writes', 'pagemap-read'] as const) {
  const parallel = variant === 'parallel';
  const how = HOW[variant];
  test(`private, copied-on-write, shared, PROT_NONE and read-only mappings and brk survive${how}`, async (t) => {
    const dir = tmpDir('cryo-mmaps', t);
    const log = join(dir, 'report.log');
    const target = await startTarget([buildTarget('mmaps'), log, dir], { t });
    const before = parseReport(await requestReport(target.pid, log));
    assert.equal(before.all, 'ok');
    const img = join(dir, 'img');
    const fdsBefore = readdirSync(`/proc/${target.pid}/fd`).sort();
    const dumpEnv: Record<string, string> | undefined = variant === 'task-writes' ? { CRYO_TASK_WRITE_BYTES: '4096' } : variant === 'pagemap-read' ? { CRYO_PAGEMAP_SCAN: '0' } : undefined;
    await dumpAndRestore(target.pid, img, parallel ? { CRYO_PARALLEL_FILL_BYTES: '4096' } : undefined, dumpEnv);
    assert.equal(/no PAGEMAP_SCAN: its pages are found by reading/.test(readFileSync(join(img, 'dump.log'), 'utf8')), variant === 'pagemap-read', 'how the pages were found');
    const wrote = /the task wrote (\d+) bytes of pages in \d+ pwritev calls \([\d.]+ ms\); cryo copied (\d+)/.exec(readFileSync(join(img, 'dump.log'), 'utf8'));
    if (variant !== 'task-writes') assert.equal(wrote, null, 'small processes have cryo copy their pages');
    else assert.ok(wrote && Number(wrote[1]) > 0 && Number(wrote[2]) > 0, `the task wrote its readable pages, cryo the PROT_NONE ones: ${wrote?.[0]}`);
    assert.deepEqual(readdirSync(`/proc/${target.pid}/fd`).sort(), fdsBefore, 'the same fds after the restore');
    assert.deepEqual(readdirSync(`/proc/${target.pid}/task`), [String(target.pid)], 'no helper thread left');
    const after = parseReport(await requestReport(target.pid, log));
    assert.equal(after.all, 'ok', JSON.stringify(after));
    assert.equal(after.brk_end, before.brk_end, 'brk');
    assert.equal(Number(after.gen), Number(before.gen) + 1, 'the shared mapping still maps the file');
    const filled = /the task read (\d+) bytes of pages; cryo's (\d+)/.exec(readFileSync(join(img, 'restore.log'), 'utf8'));
    if (!parallel) assert.equal(filled, null, 'small images are filled by the task alone');
    else assert.ok(filled && Number(filled[1]) > 0 && Number(filled[2]) > 0, 'both halves were filled');
  });
}

test('credentials of an unprivileged task (uids, gids, groups, capabilities) survive', async (t) => {
  const dir = tmpDir('cryo-creds', t);
  const target = await startTarget(
    ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--groups=65534,100', '--inh-caps=-all', '--bounding-set=-all', '--', '/bin/sleep', '1000'],
    { ready: 'sleeping', t },
  );
  const creds = (): string[] => readFileSync(`/proc/${target.pid}/status`, 'utf8').split('\n').filter((l) => /^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):/.test(l));
  const before = creds();
  assert.ok(before.some((l) => /^Uid:\s+65534\s/.test(l)), before.join('\n'));
  // The task writes its own pages: into a file only root may open, through the fd cryo passes it.
  await dumpAndRestore(target.pid, join(dir, 'img'), undefined, { CRYO_TASK_WRITE_BYTES: '4096' });
  assert.match(readFileSync(join(dir, 'img', 'dump.log'), 'utf8'), /the task wrote [1-9]\d* bytes of pages/);
  assert.deepEqual(creds(), before);
  assert.match(readFileSync(`/proc/${target.pid}/stat`, 'utf8'), /^\d+ \(sleep\) S /);
});

test('eventfd (counter), signalfd (mask) and timerfd (interval, still firing) survive', async (t) => {
  const dir = tmpDir('cryo-eventfds', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('eventfds'), log], { t });
  const before = parseReport(await requestReport(target.pid, log));
  assert.deepEqual([before.efd, before.sfd, before.tfd_interval_ms], ['5', '12', '100']);
  await dumpAndRestore(target.pid, join(dir, 'img'));
  const after = parseReport(await requestReport(target.pid, log));
  assert.equal(after.efd, '5', 'eventfd counter');
  assert.equal(after.efd_nonblock, '1');
  assert.equal(after.sfd, '12', 'the signalfd still reads SIGUSR2');
  assert.equal(after.tfd_interval_ms, '100');
  await new Promise((r) => setTimeout(r, 350));
  const later = parseReport(await requestReport(target.pid, log));
  assert.ok(Number(later.tfd_total) >= Number(after.tfd_total) + 2, `the timer keeps firing: ${after.tfd_total} → ${later.tfd_total}`);
});
