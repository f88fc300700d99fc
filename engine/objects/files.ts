// File descriptors (fdinfo-ID.img), file descriptions (files.img: regular files, character
// devices by path, deleted-but-open files kept as ghost files, pipes) and the fs state
// (fs-PID.img: cwd, root, umask). Kinds are picked by a predicate table with an explicit
// "unsupported" fallback that names the fd, its link and its kind.
import { closeSync, openSync, readSync, statSync, unlinkSync, writeFileSync, chmodSync, chownSync, constants as FS } from 'node:fs';
import {
  AT_FDCWD,
  F,
  FD_CLOEXEC,
  NR,
  O,
  closeFd,
  kcmpFile,
  fcntl,
  pidfdGetfd,
  pidfdOpen,
  pipe,
  readFd,
  tee,
  writeFd,
} from '../../native/index.ts';
import { RuntimeError, UnsupportedError } from '../../errors.ts';
import type { DumpContext, RestoreContext, RestoreTask } from '../context.ts';
import { imageFileName } from '../images/index.ts';
import type { FrozenProcess } from '../tree.ts';
import { readCwd, readFdinfo, readFdLinks, readRoot, readStatus } from '../proc/index.ts';
import { eventfdKind } from './eventfd.ts';
import { FOWN, closeCryoPidfd, installFd, type FdFacts, type FdKind } from './fd-kind.ts';
import { signalfdKind } from './signalfd.ts';
import { timerfdKind } from './timerfd.ts';
import { finishUnixDump, unixSocketKind } from './unix-sockets.ts';

type Entry = Record<string, any>;

export const FD_TYPE = { REG: 1, PIPE: 2, FIFO: 3, INETSK: 4, UNIXSK: 5, EVENTFD: 6, EVENTPOLL: 7, INOTIFY: 8, SIGNALFD: 9, TTY: 11, TIMERFD: 17, MEMFD: 18 } as const;

/** CRIU's default --ghost-limit: deleted files larger than this are refused. */
export const GHOST_LIMIT = 1024 * 1024;

/** Character devices that can simply be opened again by path. */
const SIMPLE_CHARDEVS = new Set(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom']);

// Scratch offset for paths passed to injected openat/chdir.
const PATH_OFF = 8192;

/** One files.img REG entry per path (mapped files, exe, cwd/root); fds get their own. */
export function internRegFile(ctx: DumpContext, pid: number, path: string, opts: { mapped?: boolean } = {}): number {
  const have = ctx.regIds.get(path);
  if (have !== undefined) return have;
  const id = ctx.fileIds.next();
  const reg: Entry = { id, flags: 0, pos: 0n, fown: FOWN, name: path };
  try {
    const st = statSync(path);
    reg.mode = st.mode;
    if (st.isFile()) reg.size = BigInt(st.size);
  } catch {
    throw new UnsupportedError(`${pid}: ${opts.mapped ? 'mapped' : 'open'} file ${path} is not reachable by path`, {
      hint: 'the file lives in another mount namespace or was replaced',
    });
  }
  ctx.files.push({ type: FD_TYPE.REG, id, reg });
  ctx.regIds.set(path, id);
  return id;
}


function deletedPath(link: string): string | undefined {
  return link.endsWith(' (deleted)') ? link.slice(0, -' (deleted)'.length) : undefined;
}

const regularFile: FdKind = {
  name: 'regular file',
  type: 1,
  matches: (f) => f.link.startsWith('/'),
  dump(ctx, f) {
    const procPath = `/proc/${f.pid}/fd/${f.fd}`;
    const st = statSync(procPath);
    const id = ctx.fileIds.next();
    const flags = f.info.flags & ~O.CLOEXEC;
    const deleted = deletedPath(f.link);
    const name = deleted ?? f.link;
    if (st.isCharacterDevice()) {
      if (!SIMPLE_CHARDEVS.has(name)) {
        throw new UnsupportedError(`${f.pid}: fd ${f.fd} is the character device ${name}`, {
          hint: name.startsWith('/dev/pts') || name.startsWith('/dev/tty') ? 'a terminal: use --shell-job (coming with issue 4) or start the task with its stdio on files' : 'only /dev/null, /dev/zero, /dev/full, /dev/random and /dev/urandom are supported',
        });
      }
    } else if (st.isFIFO()) {
      throw new UnsupportedError(`${f.pid}: fd ${f.fd} is the FIFO ${name}`, { hint: 'named pipes are not supported yet' });
    } else if (!st.isFile() && !st.isDirectory()) {
      throw new UnsupportedError(`${f.pid}: fd ${f.fd}: ${f.link} (mode ${st.mode.toString(8)})`);
    }
    const reg: Entry = { id, flags, pos: f.info.pos, fown: FOWN, name, mode: st.mode };
    if (st.isFile()) reg.size = BigInt(st.size);
    if (deleted !== undefined && st.nlink === 0 && st.isFile()) dumpGhost(ctx, f, id, st.size, st);
    return { type: FD_TYPE.REG, id, reg };
  },
};

function dumpGhost(ctx: DumpContext, f: FdFacts, id: number, size: number, st: ReturnType<typeof statSync> & object): void {
  if (size > ctx.ghostLimit) {
    throw new UnsupportedError(`${f.pid}: can't dump ghost file ${f.link} of ${size} bytes (fd ${f.fd}), increase limit`, {
      hint: `deleted-but-open files are saved into the images up to --ghost-limit (now ${ctx.ghostLimit} bytes)`,
    });
  }
  const content = Buffer.alloc(size);
  const fd = openSync(`/proc/${f.pid}/fd/${f.fd}`, 'r');
  try {
    let off = 0;
    while (off < size) {
      const n = readSync(fd, content, off, size - off, off);
      if (n <= 0) break;
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  const remapId = ctx.fileIds.next();
  const ms = (t: number): Entry => ({ tv_sec: BigInt(Math.floor(t / 1000)), tv_usec: BigInt(Math.round((t % 1000) * 1000)) });
  const ghost: Entry = {
    uid: Number(st.uid), gid: Number(st.gid), mode: Number(st.mode), dev: Number(st.dev) >>> 0, ino: BigInt(st.ino),
    atim: ms(Number(st.atimeMs)), mtim: ms(Number(st.mtimeMs)), chunks: false, size: BigInt(size),
  };
  ctx.images.write('GHOST_FILE', [ghost], { id: remapId, payloads: [content] });
  ctx.remaps.push({ orig_id: id, remap_id: remapId, remap_type: 1 /* GHOST */ });
}

/** Writes the images that collect across processes: files.img and remap-fpath.img. */
export function writeFileImages(ctx: DumpContext): void {
  finishUnixDump(ctx);
  ctx.images.write('FILES', ctx.files);
  if (ctx.remaps.length) ctx.images.write('REMAP_FPATH', ctx.remaps);
}

/** Reads up to `bytes` queued bytes of a pipe without consuming them (tee into our own pipe). */
function peekPipe(pid: number, fd: number): { data: Buffer; size: number } {
  const rfd = openSync(`/proc/${pid}/fd/${fd}`, FS.O_RDONLY | FS.O_NONBLOCK);
  try {
    const size = fcntl(rfd, F.GETPIPE_SZ);
    const [pr, pw] = pipe(O.NONBLOCK);
    try {
      fcntl(pw, F.SETPIPE_SZ, size);
      const n = Math.max(0, teeAll(rfd, pw, size));
      const data = Buffer.alloc(n);
      let off = 0;
      while (off < n) off += readFd(pr, data.subarray(off));
      return { data, size };
    } finally {
      closeFd(pr);
      closeFd(pw);
    }
  } finally {
    closeSync(rfd);
  }
}

function teeAll(from: number, to: number, size: number): number {
  try {
    return tee(from, to, size, 2 /* SPLICE_F_NONBLOCK */);
  } catch (e) {
    if ((e as { code?: string }).code === 'EAGAIN') return 0;
    throw e;
  }
}

const pipes: FdKind = {
  name: 'pipe',
  type: 2,
  matches: (f) => f.link.startsWith('pipe:['),
  dump(ctx, f) {
    const ino = Number(f.link.slice(6, -1));
    const id = ctx.fileIds.next();
    if (!ctx.pipeData.has(ino)) {
      const { data, size } = peekPipe(f.pid, f.fd);
      ctx.pipeData.set(ino, { entry: { pipe_id: ino, bytes: data.length, size }, payload: data });
    }
    return { type: FD_TYPE.PIPE, id, pipe: { id, pipe_id: ino, flags: f.info.flags & ~O.CLOEXEC, fown: FOWN } };
  },
};

export function writePipeData(ctx: DumpContext): void {
  const data = [...ctx.pipeData.values()];
  if (data.length) ctx.images.write('PIPES_DATA', data.map((d) => d.entry), { payloads: data.map((d) => d.payload) });
}

const FD_KINDS: readonly FdKind[] = [pipes, eventfdKind, signalfdKind, timerfdKind, unixSocketKind, regularFile];

const UNSUPPORTED_HINTS: readonly [RegExp, string][] = [
  [/^socket:/, 'only unix sockets are supported yet (issue 4: TCP sockets)'],
  [/io_uring/, 'io_uring cannot be checkpointed (CRIU cannot either)'],
  [/^anon_inode:/, 'this kind of anonymous-inode file is not supported yet'],
  [/^\/memfd:/, 'memfd files are not supported yet'],
];

/** fdinfo-ID.img (one entry per fd) and files.img entries for one task. */
export function dumpFds(ctx: DumpContext, proc: FrozenProcess, filesId: number): void {
  const pid = proc.pid;
  const fdinfo: Entry[] = [];
  const byLink = new Map<string, Description[]>();
  for (const { fd, link } of readFdLinks(pid)) {
    const info = readFdinfo(pid, fd);
    const facts: FdFacts = { pid, fd, link, info };
    // dup()ed fds share one open file description (one offset): keep them sharing.
    const same = findDescription(pid, byLink, facts);
    let id: number;
    let type: number;
    if (same) {
      id = same.id;
      type = ctx.files.find((e) => e.id === id)!.type as number;
    } else {
      const kind = FD_KINDS.find((k) => k.matches(facts));
      if (!kind) {
        const hint = UNSUPPORTED_HINTS.find(([re]) => re.test(link))?.[1];
        throw new UnsupportedError(`${pid}: can't dump fd ${fd}: ${link}`, { hint });
      }
      const fe = kind.dump(ctx, facts);
      ctx.files.push(fe);
      id = fe.id as number;
      type = fe.type as number;
      addDescription(pid, byLink, { facts, id });
    }
    fdinfo.push({ id, flags: info.flags & O.CLOEXEC ? FD_CLOEXEC : 0, type, fd });
  }
  ctx.images.write('FDINFO', fdinfo, { id: filesId });
  const cwd = internRegFile(ctx, pid, readCwd(pid));
  const root = internRegFile(ctx, pid, readRoot(pid));
  const umask = readStatus(pid).umask ?? 0o022;
  ctx.images.write('FS', [{ cwd_id: cwd, root_id: root, umask }], { id: pid });
}

interface Description {
  readonly facts: FdFacts;
  readonly id: number;
}

/**
 * kcmp(KCMP_FILE) orders open file descriptions (0 equal, 1 less, 2 greater), so the distinct
 * descriptions of one path are kept sorted and each fd is looked up by binary search: a task with
 * a thousand fds costs thousands of kcmp calls, not half a million.
 */
function kcmpOrder(pid: number, a: number, b: number): number {
  return kcmpFile(pid, a, pid, b);
}

function findDescription(pid: number, byLink: Map<string, Description[]>, f: FdFacts): Description | undefined {
  const list = byLink.get(f.link);
  if (!list) return undefined;
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = kcmpOrder(pid, f.fd, list[mid]!.facts.fd);
    if (c === 0) return list[mid];
    if (c === 1) hi = mid - 1;
    else lo = mid + 1;
  }
  return undefined;
}

function addDescription(pid: number, byLink: Map<string, Description[]>, d: Description): void {
  const list = byLink.get(d.facts.link) ?? [];
  byLink.set(d.facts.link, list);
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (kcmpOrder(pid, d.facts.fd, list[mid]!.facts.fd) === 1) hi = mid;
    else lo = mid + 1;
  }
  list.splice(lo, 0, d);
}

/** ---- restore ---- */

/** openat() inside the task; returns the task's new fd. */
export function openInTask(task: RestoreTask, path: string, flags: number, mode = 0): number {
  const p = task.remote.putString(PATH_OFF, path);
  return Number(task.remote.leader.call('openat', NR.openat, AT_FDCWD, p, flags, mode));
}

/** Puts `fd` at `target` (dup3 with the right close-on-exec) and closes the original. */
function placeFd(task: RestoreTask, fd: number, target: number, cloexec: boolean): void {
  const t = task.remote.leader;
  if (fd !== target) {
    t.call('dup3', NR.dup3, fd, target, cloexec ? O.CLOEXEC : 0);
    t.call('close', NR.close, fd);
  } else if (cloexec) {
    t.call('fcntl', NR.fcntl, fd, F.SETFD, FD_CLOEXEC);
  }
}

function recreateGhost(ctx: RestoreContext, remapId: number, name: string): string {
  const [{ entry, payload }] = ctx.images.readWithPayloads('GHOST_FILE', remapId) as { entry: Entry; payload?: Buffer }[] as [{ entry: Entry; payload?: Buffer }];
  for (let i = 0; ; i++) {
    const path = i === 0 ? name : `${name}.cryo-ghost-${process.pid}-${i}`;
    try {
      writeFileSync(path, payload ?? Buffer.alloc(0), { flag: 'wx', mode: Number(entry.mode) & 0o7777 });
      chmodSync(path, Number(entry.mode) & 0o7777);
      try {
        chownSync(path, Number(entry.uid), Number(entry.gid));
      } catch {
        /* keep root's */
      }
      return path;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST' || i > 100) {
        throw new RuntimeError(`can't recreate deleted file ${name}: ${(e as Error).message}`, { cause: e });
      }
    }
  }
}

/** Opens every fd of the image in the task, at its number, sharing descriptions as dumped. */
export function restoreFds(ctx: RestoreContext, task: RestoreTask, filesId: number): void {
  const t = task.remote.leader;
  // Everything the helper had open goes first.
  t.call('close_range', NR.close_range, 0, 0xffffffff, 0);
  const fdinfo = [...(ctx.images.read('FDINFO', filesId) as Entry[])].sort((a, b) => a.fd - b.fd);
  const opened = new Map<number, number>(); // file id → fd in the task holding it
  const pipeEnds = new Map<number, [number, number]>(); // pipe inode → [read, write] fds in the task
  // Each image once per restore, not once per fd.
  const pipeData = new Map<number, { entry: Entry; payload?: Buffer }>();
  if (ctx.images.list().includes(imageFileName('PIPES_DATA'))) {
    for (const d of ctx.images.readWithPayloads('PIPES_DATA') as { entry: Entry; payload?: Buffer }[]) pipeData.set(Number(d.entry.pipe_id), d);
  }
  const ghostOf = new Map<number, number>(); // file id → ghost image (remap) id
  for (const r of (ctx.images.readOptional('REMAP_FPATH') ?? []) as Entry[]) ghostOf.set(Number(r.orig_id), Number(r.remap_id));
  const ghosts: string[] = [];
  const late: (() => void)[] = [];
  // Spare fds (both ends of each pipe while it is refilled) live above every fd of the image.
  const spareBase = fdinfo.reduce((m, e) => Math.max(m, Number(e.fd)), 0) + 1;
  task.spareFdBase = spareBase;
  try {
    for (const e of fdinfo) {
      const cloexec = (e.flags & FD_CLOEXEC) !== 0;
      const first = opened.get(e.id);
      if (first !== undefined) {
        t.call('dup3', NR.dup3, first, e.fd, cloexec ? O.CLOEXEC : 0);
        continue;
      }
      const file = ctx.files.get(e.id);
      if (!file) throw new RuntimeError(`fdinfo-${filesId}.img: fd ${e.fd} names file id ${e.id}, missing from files.img`);
      let fd: number;
      if (file.type === FD_TYPE.REG) {
        const reg = file.reg as Entry;
        let path = reg.name as string;
        const remapId = ghostOf.get(e.id);
        if (remapId !== undefined) {
          path = recreateGhost(ctx, remapId, path);
          ghosts.push(path);
        }
        fd = openInTask(task, path, Number(reg.flags) & ~(O.CREAT | O.TRUNC | O.EXCL));
        if (BigInt(reg.pos ?? 0) !== 0n) t.call('lseek', NR.lseek, fd, BigInt(reg.pos), 0);
      } else if (file.type === FD_TYPE.PIPE) {
        const p = file.pipe as Entry;
        const ino = Number(p.pipe_id);
        let ends = pipeEnds.get(ino);
        if (!ends) {
          ends = createPipe(ctx, task, pipeData.get(ino), spareBase);
          pipeEnds.set(ino, ends);
        }
        const writer = (Number(p.flags) & O.ACCMODE) === O.WRONLY;
        fd = Number(t.call('dup', NR.dup, writer ? ends[1] : ends[0]));
        t.call('fcntl', NR.fcntl, fd, F.SETFL, Number(p.flags) & ~O.ACCMODE);
      } else {
        const kind = FD_KINDS.find((k) => k.type === file.type && (k.restore || k.open));
        if (!kind) throw new RuntimeError(`files.img: fd ${e.fd} has a file type (${file.type}) this cryo can't restore`);
        if (kind.restore) fd = kind.restore(ctx, task, file);
        else {
          const own = kind.open!(ctx, file);
          try {
            fd = installFd(task, own);
          } finally {
            closeFd(own);
          }
        }
        if (kind.afterAll) late.push(() => kind.afterAll!(ctx, task, file, e.fd));
      }
      placeFd(task, fd, e.fd, cloexec);
      opened.set(e.id, e.fd);
    }
    for (const run of late) run();
    closeCryoPidfd(task);
    // The spare pipe ends were only needed to refill data.
    for (const [r, w] of pipeEnds.values()) {
      t.call('close', NR.close, r);
      t.call('close', NR.close, w);
    }
  } finally {
    for (const g of ghosts) unlinkSync(g);
  }
}

/** A pipe created in the task, refilled with its dumped data; returns [read, write] fds kept above the image's fds. */
function createPipe(ctx: RestoreContext, task: RestoreTask, data: { entry: Entry; payload?: Buffer } | undefined, spareBase: number): [number, number] {
  const rp = task.remote;
  rp.leader.call('pipe2', NR.pipe2, rp.scratch + BigInt(PATH_OFF), 0);
  const fds = rp.get(PATH_OFF, 8);
  // Move both ends out of the way of fd numbers still to be placed.
  const high = (fd: number): number => {
    const n = Number(rp.leader.call('fcntl', NR.fcntl, fd, F.DUPFD, spareBase));
    rp.leader.call('close', NR.close, fd);
    return n;
  };
  const r = high(fds.readInt32LE(0));
  const w = high(fds.readInt32LE(4));
  if (data) {
    const pidfd = pidfdOpen(task.pid);
    const mine = pidfdGetfd(pidfd, w, task.pid);
    try {
      if (data.entry.size) fcntl(mine, F.SETPIPE_SZ, Number(data.entry.size));
      const payload = data.payload ?? Buffer.alloc(0);
      let off = 0;
      while (off < payload.length) off += writeFd(mine, payload.subarray(off));
    } finally {
      closeFd(mine);
      closeFd(pidfd);
    }
    ctx.log.debug(`${task.pid}: pipe ${data.entry.pipe_id} refilled with ${data.entry.bytes} bytes`);
  }
  return [r, w];
}

/** cwd, root and umask. */
export function restoreFs(ctx: RestoreContext, task: RestoreTask): void {
  const [fs] = ctx.images.read('FS', task.pid) as Entry[];
  if (!fs) return;
  const t = task.remote.leader;
  const dir = (id: number): string => {
    const f = ctx.files.get(id);
    if (!f?.reg) throw new RuntimeError(`fs-${task.pid}.img: directory id ${id} missing from files.img`);
    return f.reg.name as string;
  };
  const root = dir(Number(fs.root_id));
  if (root !== '/') t.call('chroot', NR.chroot, task.remote.putString(PATH_OFF, root));
  t.call('chdir', NR.chdir, task.remote.putString(PATH_OFF, dir(Number(fs.cwd_id))));
  if (fs.umask !== undefined) t.call('umask', NR.umask, Number(fs.umask));
}

