// Mappings of deleted files — what POSIX semaphores, shm_open() objects unlinked after mmap and
// scratch files leave — and removed working directories are saved as ghost files, one per inode
// (CRIU: ghost files under --ghost-limit), and shared again after restore by every process and fd
// that had them.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCryo } from '../helpers/cryo.ts';
import { buildTarget, parseReport, requestReport, startTarget, waitForFileLine } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { PYTHON, assertUntouched, dumpOk, killAtEnd, restoreDetached, sleep, waitDumpedGone } from './e2e.ts';

/** The deleted files each process maps, as `name inode` from its maps. */
function deletedMaps(pid: number): string[] {
  return readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith(' (deleted)'))
    .map((l) => {
      const f = l.split(/\s+/);
      return `${f[5]!.split('/').at(-1)} ${f[4]}`;
    })
    .sort();
}

test('mappings of deleted files (shared with a child and an fd, and private, written): one ghost per file; after restore the child\'s increments are seen, the fd and the mapping are one file, the private page is kept, and the files are deleted again', async (t) => {
  const dir = tmpDir('cryo-e2e-unlink-mmap', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('unlink_mmap'), log, dir], { t });
  const child = Number(parseReport(target.output())['child']);
  killAtEnd(t, child, 'unlink_mmap');
  const report = async (): Promise<Record<string, string>> => parseReport(await requestReport(target.pid, log));
  const before = await report();
  assert.deepEqual([before['sum'], before['fd_map'], before['private']], ['ok', 'ok', 'ok']);
  const mapsBefore = deletedMaps(target.pid);
  assert.equal(mapsBefore.length, 2, mapsBefore.join(', '));

  const img = join(dir, 'img');
  await dumpOk(target.pid, img);
  await waitDumpedGone(target);
  // shared.bin is mapped by both processes and open in the parent: still one ghost.
  assert.equal(readdirSync(img).filter((f) => f.startsWith('ghost-file-')).length, 2, readdirSync(img).join(' '));

  await restoreDetached(img);
  assertUntouched(target.pid, 'the restored parent');
  const a = await report();
  assert.deepEqual([a['sum'], a['fd_map'], a['private']], ['ok', 'ok', 'ok'], JSON.stringify(a));
  assert.ok(Number(a['counter']) >= Number(before['counter']), 'the counter did not go back');
  await sleep(100);
  const b = await report();
  assert.ok(Number(b['counter']) > Number(a['counter']) + 5, `the parent sees the child's increments (${a['counter']} -> ${b['counter']})`);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.bin') || f.includes('cryo-ghost')), [], 'the recreated files are deleted again');
  const parentMaps = deletedMaps(target.pid);
  assert.deepEqual(parentMaps.map((m) => m.split(' ')[0]), ['private.bin', 'shared.bin']);
  assert.ok(deletedMaps(child).includes(parentMaps.find((m) => m.startsWith('shared.bin'))!), 'the child maps the same shared.bin inode');
});

test('a mapped deleted file over --ghost-limit is refused by name and the task runs on; raising the limit dumps it', async (t) => {
  const dir = tmpDir('cryo-e2e-unlink-mmap-big', t);
  const log = join(dir, 'report.log');
  // No fd open on it (`nofd`): the mapping itself is what is refused.
  const target = await startTarget([buildTarget('unlink_mmap'), log, dir, String(2 << 20), 'nofd'], { t });
  const child = Number(parseReport(target.output())['child']);
  killAtEnd(t, child, 'unlink_mmap');
  const r = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'img')]);
  assert.equal(r.code, 4, `exit ${r.code}:\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`${target.pid}: can't dump ghost file .*shared\\.bin of 2097152 bytes \\(mapped at 0x[0-9a-f]+\\), increase limit`));
  assert.match(r.stderr, /hint: deleted files still open or mapped are saved .*--ghost-limit/);
  for (const pid of [target.pid, child]) assertUntouched(pid);
  const a = await report(target.pid, log);
  await sleep(100);
  assert.ok(Number((await report(target.pid, log))['counter']) > Number(a['counter']), 'the child still counts in the shared mapping');
  await dumpOk(target.pid, join(dir, 'img2'), ['--ghost-limit', '4M', '-R']);
  for (const pid of [target.pid, child]) assertUntouched(pid);
});

async function report(pid: number, log: string): Promise<Record<string, string>> {
  return parseReport(await requestReport(pid, log));
}

// multiprocessing's locks and queues are POSIX semaphores: sem_open() files in /dev/shm,
// unlinked at once and mapped by the parent and every worker.
const POOL = `
import multiprocessing as mp, sys, time
def square(x):
    return x * x
if __name__ == '__main__':
    lock = mp.Lock()
    log = open(sys.argv[1], 'a', buffering=1)
    with mp.Pool(2) as pool:
        print('ready', flush=True)
        n = 0
        while True:
            n += 1
            with lock:
                total = sum(pool.map(square, range(5)))
            log.write(f'{n} {total}\\n')
            time.sleep(0.02)
`;

test('python multiprocessing (a Pool and a Lock: semaphores in deleted /dev/shm files) counts on after dump + restore', async (t) => {
  const dir = tmpDir('cryo-e2e-mp-pool', t);
  const log = join(dir, 'pool.log');
  const target = await startTarget([PYTHON, '-c', POOL, log], { t });
  await waitForFileLine(log, (l) => l.startsWith('3 '));
  const workers = readFileSync(`/proc/${target.pid}/task/${target.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  for (const w of workers) killAtEnd(t, w, 'python3');
  assert.ok(deletedMaps(target.pid).some((m) => m.startsWith('sem.')), 'the pool maps deleted semaphore files');
  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  const atDump = readFileSync(log, 'utf8');
  const last = Number(atDump.trim().split('\n').at(-1)!.split(' ')[0]);
  await restoreDetached(join(dir, 'img'));
  const line = await waitForFileLine(log, (l) => Number(l.split(' ')[0]) >= last + 10, 5000, { since: atDump.length });
  assert.equal(line.split(' ')[1], '30', 'the pool still computes');
  assert.ok(!existsSync(`/dev/shm/${deletedMaps(target.pid).find((m) => m.startsWith('sem.'))!.split(' ')[0]}`), 'the semaphores are deleted again');
});

test('a removed working directory (and its removed parent), also open as fd 7, is the cwd and fd 7 again after restore — one directory — and removed again', async (t) => {
  const dir = tmpDir('cryo-e2e-deleted-cwd', t);
  const cwd = join(dir, 'parent', 'cwd');
  mkdirSync(cwd, { recursive: true });
  const log = join(dir, 'count.log');
  const target = await startTarget(['/bin/sh', '-c', `cd ${cwd} && exec 7<. && echo ready && i=0 && while :; do i=$((i+1)); echo $i >> ${log}; sleep 0.02; done`], { t });
  rmSync(join(dir, 'parent'), { recursive: true });
  assert.equal(readlinkSync(`/proc/${target.pid}/cwd`), `${cwd} (deleted)`);
  await waitForFileLine(log, (l) => l === '3');
  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  const atDump = readFileSync(log, 'utf8');
  const last = Number(atDump.trim().split('\n').at(-1));
  await restoreDetached(join(dir, 'img'));
  assert.equal(readlinkSync(`/proc/${target.pid}/cwd`), `${cwd} (deleted)`, 'the same directory, deleted');
  assert.equal(readlinkSync(`/proc/${target.pid}/fd/7`), `${cwd} (deleted)`);
  assert.equal(statSync(`/proc/${target.pid}/fd/7`).ino, statSync(`/proc/${target.pid}/cwd`).ino, 'fd 7 and the cwd are one directory');
  await waitForFileLine(log, (l) => Number(l) >= last + 5, 5000, { since: atDump.length });
  assert.equal(existsSync(join(dir, 'parent')), false, 'the recreated directories are removed again');
});

test('a binary deleted while it runs (as an upgrade leaves it): its exe and its mappings are one ghost, and the counter counts on', async (t) => {
  const dir = tmpDir('cryo-e2e-deleted-exe', t);
  const exe = join(dir, 'counter');
  copyFileSync(buildTarget('counter'), exe);
  const log = join(dir, 'counter.log');
  const target = await startTarget([exe, log, '4'], { t });
  unlinkSync(exe);
  const before = parseReport(await requestReport(target.pid, log));
  const img = join(dir, 'img');
  await dumpOk(target.pid, img);
  await waitDumpedGone(target);
  assert.equal(readdirSync(img).filter((f) => f.startsWith('ghost-file-')).length, 1);
  await restoreDetached(img);
  assert.equal(readlinkSync(`/proc/${target.pid}/exe`), `${exe} (deleted)`);
  const maps = deletedMaps(target.pid);
  assert.ok(maps.length >= 2 && maps.every((m) => m === `counter ${statSync(`/proc/${target.pid}/exe`).ino}`), maps.join(', '));
  await sleep(150);
  const after = parseReport(await requestReport(target.pid, log));
  assert.equal(after['token'], before['token']);
  assert.equal(after['mem'], 'ok');
  assert.ok(Number(after['count']) > Number(before['count']));
  assert.equal(existsSync(exe), false, 'the binary is deleted again');
});

// An O_TMPFILE file never had a name; /proc shows it as DIR/#INODE (deleted), and fdinfo keeps
// O_TMPFILE in its flags, which must not reach the open of its ghost.
const TMPFILE = `
import os, sys, time
fd = os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600)
os.write(fd, b'written-before-the-dump')
log = open(sys.argv[2], 'a', buffering=1)
print('ready', flush=True)
n = 0
while True:
    n += 1
    log.write(f'{n} {os.pread(fd, 100, 0).decode()}\\n')
    time.sleep(0.02)
`;

test('an O_TMPFILE file is saved as a ghost and open again, with its content, after restore', async (t) => {
  const dir = tmpDir('cryo-e2e-tmpfile', t);
  const log = join(dir, 'tmpfile.log');
  const target = await startTarget([PYTHON, '-c', TMPFILE, dir, log], { t });
  await waitForFileLine(log, (l) => l.startsWith('3 '));
  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  const atDump = readFileSync(log, 'utf8');
  await restoreDetached(join(dir, 'img'));
  const line = await waitForFileLine(log, (l) => Number(l.split(' ')[0]) >= Number(atDump.trim().split('\n').at(-1)!.split(' ')[0]) + 5, 5000, { since: atDump.length });
  assert.equal(line.split(' ')[1], 'written-before-the-dump');
  const fds = readdirSync(`/proc/${target.pid}/fd`).map((fd) => readlinkSync(`/proc/${target.pid}/fd/${fd}`));
  assert.ok(fds.some((l) => l.startsWith(`${dir}/#`) && l.endsWith(' (deleted)')), fds.join(', '));
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('#')), [], 'no ghost left behind');
});
