// epoll, inotify, memfd, FIFOs and file locks: each target sets its object up, is dumped and
// restored through the CLI, and must find its state again and keep working; crit decodes the
// images these kinds add.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { critDecode, critSkip } from '../helpers/crit.ts';
import { runCryo } from '../helpers/cryo.ts';
import { buildTarget, fileSize, parseReport, requestReport, startTarget, waitForFileLine } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { PYTHON, assertUntouched, dumpOk, restoreDetached, waitDumpedGone } from './e2e.ts';

async function dumpAndRestore(pid: number, images: string, extra: readonly string[] = []): Promise<void> {
  await dumpOk(pid, images, extra);
  await restoreDetached(images);
  assert.ok(existsSync(`/proc/${pid}`), 'restored with the same pid');
}

/** Decodes `file` with crit when it is installed (CI: always). */
async function decoded(images: string, file: string): Promise<Record<string, any>[] | undefined> {
  if (critSkip) return undefined;
  const d = await critDecode(join(images, file));
  return d.entries;
}

test('epoll: the loop keeps serving its pipe, eventfd and timerfd after a restore', async (t) => {
  const dir = tmpDir('cryo-epoll', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('epoll'), log], { t });
  const pipeW = Number(/pipe_w=(\d+)/.exec(target.output())![1]);
  const before = parseReport(await requestReport(target.pid, log));
  assert.equal(before.pipe_w, String(pipeW));
  const images = join(dir, 'img');
  await dumpAndRestore(target.pid, images);
  const after = parseReport(await requestReport(target.pid, log));
  assert.equal(after.ep_cloexec, '1', 'the epoll fd keeps close-on-exec');
  // A line written into the pipe is answered through epoll.
  const since = fileSize(log);
  writeFileSync(`/proc/${target.pid}/fd/${pipeW}`, 'ping-after-restore\n');
  await waitForFileLine(log, (l) => l === 'echo=ping-after-restore', 5000, { since });
  // The edge-triggered timerfd watch still wakes the loop.
  await new Promise((r) => setTimeout(r, 150));
  const later = parseReport(await requestReport(target.pid, log));
  assert.ok(Number(later.ticks) > Number(after.ticks), `the timerfd keeps ticking through epoll: ${after.ticks} → ${later.ticks}`);
  assert.ok(!/bad_data/.test(await waitForFileLine(log, () => true)), 'every event came with its own data');
  const files = await decoded(images, 'files.img');
  if (files) {
    const ep = files.find((f) => f.type === 'EVENTPOLL');
    assert.ok(ep, 'files.img has the epoll entry');
    assert.equal(ep.epfd.tfd.length, 3);
    // crit prints u64 data as a JSON number (not exact): check the masks (EPOLLET on the timerfd).
    assert.deepEqual(ep.epfd.tfd.map((w: Record<string, any>) => w.events).sort((a: number, b: number) => a - b), [0x19, 0x19, 0x80000019]);
  }
});

test('inotify: watches come back with their watch descriptors; new events name them', async (t) => {
  const dir = tmpDir('cryo-inotify', t);
  const log = join(dir, 'report.log');
  const watched = join(dir, 'w');
  execFileSync('mkdir', [watched]);
  const target = await startTarget([buildTarget('inotify'), log, watched], { t });
  const before = parseReport(await requestReport(target.pid, log));
  assert.equal(before.wds, '2,3,4');
  const images = join(dir, 'img');
  await dumpAndRestore(target.pid, images);
  const after = parseReport(await requestReport(target.pid, log));
  assert.equal(after.wds, '2,3,4');
  assert.equal(after.nonblock, '1');
  let since = fileSize(log);
  appendFileSync(join(watched, 'c'), 'x');
  await waitForFileLine(log, (l) => l.startsWith('event wd=3 mask=0x2 '), 5000, { since });
  since = fileSize(log);
  writeFileSync(join(watched, 'new'), '');
  await waitForFileLine(log, (l) => /^event wd=4 mask=0x100 name=new$/.test(l), 5000, { since });
  since = fileSize(log);
  appendFileSync(join(watched, 'a'), 'x'); // its watch was removed before the dump: no event
  appendFileSync(join(watched, 'b'), 'x');
  const line = await waitForFileLine(log, (l) => l.startsWith('event wd=2 ') || l.startsWith('event wd=1 '), 5000, { since });
  assert.match(line, /^event wd=2 mask=0x2 /);
  const files = await decoded(images, 'files.img');
  if (files) {
    const ify = files.find((f) => f.type === 'INOTIFY')!;
    assert.deepEqual(ify.ify.wd.map((w: Record<string, any>) => w.wd).sort(), [2, 3, 4]);
    assert.ok(ify.ify.wd.every((w: Record<string, any>) => typeof w.f_handle.path === 'string'));
  }
});

test('memfd: content with a hole, seals, offsets, a second description and a plain memfd survive', async (t) => {
  const dir = tmpDir('cryo-memfd', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('memfd'), log], { t });
  const before = parseReport(await requestReport(target.pid, log));
  assert.deepEqual([before.name, before.size, before.pos, before.ro_pos, before.same_inode], ['/memfd:cryo-memfd', '12388', '5000', '4100', '1']);
  const images = join(dir, 'img');
  await dumpAndRestore(target.pid, images);
  const after = parseReport(await requestReport(target.pid, log));
  for (const k of ['name', 'size', 'seals', 'pos', 'ro_pos', 'ro_mode', 'same_inode', 'sum', 'plain', 'plain_seals', 'plain_size']) {
    assert.equal(after[k], before[k], `${k}: ${before[k]} → ${after[k]}`);
  }
  const inodes = await decoded(images, 'memfd.img');
  if (inodes) {
    assert.deepEqual(inodes.map((i) => i.name).sort(), ['cryo-memfd', 'plain']);
    const big = inodes.find((i) => i.name === 'cryo-memfd')!;
    const pm = await decoded(images, `pagemap-shmem-${big.shmid}.img`);
    // pages 0, 2, 3 hold the pattern; page 1 is a hole
    assert.deepEqual(pm!.slice(1).map((e) => [Number(e.vaddr), e.nr_pages]), [[0, 1], [8192, 2]]);
  }
});

test('FIFO: queued data, both ends and their flags survive', async (t) => {
  const dir = tmpDir('cryo-fifo', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('fifo'), log, join(dir, 'the.fifo')], { t });
  const before = parseReport(await requestReport(target.pid, log));
  assert.deepEqual(before, { data: 'hello-fifo', rmode: '0', rnonblock: '1', wmode: '1' });
  const images = join(dir, 'img');
  await dumpAndRestore(target.pid, images);
  const after = parseReport(await requestReport(target.pid, log));
  assert.deepEqual(after, before);
  const data = await decoded(images, 'fifo-data.img');
  if (data) assert.deepEqual(data.map((d) => d.bytes), [10]);
  if (!critSkip) assert.ok((await decoded(images, 'files.img'))!.some((f) => f.type === 'FIFO' && f.fifo.regf_id));
});

test('file locks: refused without --file-locks; with it, held again after a restore and still releasable', async (t) => {
  const dir = tmpDir('cryo-locks', t);
  const log = join(dir, 'report.log');
  const bin = buildTarget('locks');
  const target = await startTarget([bin, log, dir], { t });
  const probe = (...args: string[]): number => {
    try {
      execFileSync(bin, ['probe', ...args], { stdio: 'ignore' });
      return 0;
    } catch (e) {
      return (e as { status: number }).status;
    }
  };
  const flockFile = join(dir, 'flock.lck');
  const posixFile = join(dir, 'posix.lck');
  assert.equal(probe(flockFile, 'flock'), 1, 'flock held before the dump');

  const refused = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'refused')]);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /--file-locks/);
  assertUntouched(target.pid);

  const images = join(dir, 'img');
  // A CRIU user passes -l/--file-locks to both commands.
  await dumpOk(target.pid, images, ['--file-locks']);
  await restoreDetached(images, ['-l']);
  assert.equal(parseReport(await requestReport(target.pid, log)).locked, '1');
  assert.equal(probe(flockFile, 'flock'), 1, 'the flock is held again');
  assert.equal(probe(posixFile, 'posix', '10', '20'), 1, 'the POSIX write lock is held again');
  assert.equal(probe(posixFile, 'posix', '150', '1'), 1, 'the POSIX read lock to EOF is held again');
  assert.equal(probe(posixFile, 'posix', '40', '10'), 0, 'bytes between the two locks are free');
  const since = fileSize(log);
  process.kill(target.pid, 'SIGUSR2');
  await waitForFileLine(log, (l) => l === 'unlocked=1', 5000, { since });
  assert.equal(probe(flockFile, 'flock'), 0, 'released by the restored task');
  assert.equal(probe(posixFile, 'posix', '0', '0'), 0, 'released by the restored task');
  const locks = await decoded(images, 'filelocks.img');
  if (locks) assert.deepEqual(locks.map((l) => [l.flag, l.type, Number(l.start), Number(l.len)]).sort(), [[1, 0, 100, 0], [1, 1, 10, 20], [2, 1, 0, 0]]);
  assert.ok(readdirSync(images).includes('filelocks.img'));
});

// O_PATH fds name an inode without opening it: a file, a symlink itself (O_NOFOLLOW), a directory;
// and O_NOATIME, a flag only the owner may set.
const OPATH = `
import os, stat, sys, time
d = sys.argv[1]
fds = [os.open(d + '/f', os.O_PATH), os.open(d + '/l', os.O_PATH | os.O_NOFOLLOW), os.open(d, os.O_PATH | os.O_DIRECTORY), os.open(d + '/f', os.O_RDONLY | os.O_NOATIME)]
print('fds', *fds, flush=True)
log = open(d + '/log', 'a', buffering=1)
print('ready', flush=True)
n = 0
while True:
    n += 1
    log.write(f"{n} link={stat.S_ISLNK(os.fstat(fds[1]).st_mode)} size={os.stat('f', dir_fd=fds[2]).st_size} read={os.pread(fds[3], 5, 0).decode()}\\n")
    time.sleep(0.02)
`;

test('O_PATH fds (a file, a symlink opened with O_NOFOLLOW, a directory) and O_NOATIME are open again with the same flags, on the same kinds of inode', async (t) => {
  const dir = tmpDir('cryo-e2e-opath', t);
  writeFileSync(join(dir, 'f'), 'hello');
  symlinkSync('f', join(dir, 'l'));
  const target = await startTarget([PYTHON, '-c', OPATH, dir], { t });
  const fds = /^fds (.*)$/m.exec(target.output())![1]!.split(' ');
  const flags = (): string[] => fds.map((fd) => /^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/${target.pid}/fdinfo/${fd}`, 'utf8'))![1]!);
  const links = (): string[] => fds.map((fd) => readlinkSync(`/proc/${target.pid}/fd/${fd}`));
  const before = { flags: flags(), links: links() };
  const log = join(dir, 'log');
  await waitForFileLine(log, (l) => l.startsWith('3 '));
  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  const at = fileSize(log);
  await restoreDetached(join(dir, 'img'));
  assert.deepEqual({ flags: flags(), links: links() }, before);
  const line = await waitForFileLine(log, () => true, 5000, { since: at });
  assert.match(line, /link=True size=5 read=hello$/);
});

// A netlink (NETLINK_ROUTE) socket bound to groups 1 and 5 (the bind bitmap) and 33 (joined later),
// asking the kernel for the links again and again.
const NETLINK = `
import socket, struct, sys, time
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, 0x1 | 0x10))
s.setsockopt(270, 1, 33)
log = open(sys.argv[1], 'a', buffering=1)
print('ready', flush=True)
seq = 0
while True:
    seq += 1
    s.send(struct.pack('=LHHLL', 32, 18, 0x301, seq, 0) + struct.pack('=BxHiII', 0, 0, 0, 0, 0))
    links = 0; done = False
    while not done:
        data = s.recv(65536); off = 0
        while off < len(data):
            ln, typ, flags, sq, pid = struct.unpack_from('=LHHLL', data, off)
            if typ == 3: done = True; break
            if typ == 16 and sq == seq: links += 1
            off += (ln + 3) & ~3
    log.write(f'{seq} links={links} port={s.getsockname()[0]} groups={s.getsockopt(270, 9, 8).hex()}\\n')
    time.sleep(0.02)
`;

test('a netlink socket keeps its port id and its multicast groups (in and above the first 32) and answers requests after a restore', async (t) => {
  const dir = tmpDir('cryo-netlink', t);
  const log = join(dir, 'netlink.log');
  const target = await startTarget([PYTHON, '-c', NETLINK, log], { t });
  const first = await waitForFileLine(log, (l) => l.startsWith('3 '));
  const [, links, port, groups] = /links=(\d+) port=(\d+) groups=(\w+)/.exec(first)!;
  assert.ok(Number(links) > 0, first);
  assert.equal(port, String(target.pid), 'bound to its pid by the kernel');
  assert.equal(groups, '1100000001000000', 'groups 1, 5 and 33');
  const images = join(dir, 'img');
  await dumpOk(target.pid, images);
  await waitDumpedGone(target);
  const at = fileSize(log);
  await restoreDetached(images);
  const after = await waitForFileLine(log, () => true, 5000, { since: at });
  assert.match(after, new RegExp(`links=${links} port=${port} groups=${groups}$`));
  const files = await decoded(images, 'files.img');
  if (files) assert.deepEqual(files.filter((f) => f.type === 'NETLINKSK').map((f) => [f.nlsk.portid, f.nlsk.groups]), [[Number(port), [17, 1]]]);
});
