// File descriptors (fdinfo-ID.img), file descriptions (files.img: regular files, character
// devices by path, deleted files (open or mapped) kept as ghost files, pipes) and the fs state
// (fs-PID.img: cwd, root, umask). Kinds are picked by a predicate table with an explicit
// "unsupported" fallback that names the fd, its link and its kind.
import { closeSync, constants as fsConstants, existsSync, mkdirSync, openSync, readSync, rmdirSync, statSync, unlinkSync, writeFileSync, chmodSync, chownSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  F,
  FD_CLOEXEC,
  NR,
  O,
  closeFd,
  dupFd,
  kcmpFile,
  fcntl,
  pipe,
  copyFdOf,
} from '../../native/index.ts';
import { InternalError, RuntimeError, UnsupportedError } from '../../errors.ts';
import type { DumpContext, RestoreContext, RestoreTask } from '../context.ts';
import type { FrozenProcess } from '../tree.ts';
import { readCwd, readFdinfo, readFdLinks, readRoot, readStatus, type Vma } from '../proc/index.ts';
import { eventfdKind } from './eventfd.ts';
import { eventpollKind } from './eventpoll.ts';
import { fifoKind } from './fifo.ts';
import { inotifyKind } from './inotify.ts';
import { memfdKind } from './memfd.ts';
import { FOWN, PATH_OFF, closeCryoPidfd, installFd, openInTask, fdFacts, reopenFlags, type FdFacts, type FdKind } from './fd-kind.ts';
import { peekPipe, readPipeDataImage, writePipeBytes, writePipeDataImage } from './pipe-data.ts';
import { buildIdWords, readBuildId } from './build-id.ts';

export { openInTask };
import { inetSocketKind } from './inet-sockets.ts';
import { netlinkSocketKind } from './netlink-sockets.ts';
import { signalfdKind } from './signalfd.ts';
import { timerfdKind } from './timerfd.ts';
import { ttyKind, writeTtyImages } from './tty.ts';
import { finishUnixDump, unixSocketKind } from './unix-sockets.ts';

type Entry = Record<string, any>;

export const FD_TYPE = { REG: 1, PIPE: 2, FIFO: 3, INETSK: 4, UNIXSK: 5, EVENTFD: 6, EVENTPOLL: 7, INOTIFY: 8, SIGNALFD: 9, TTY: 11, TIMERFD: 17, MEMFD: 18 } as const;

/** CRIU's default --ghost-limit: deleted files larger than this are refused. */
export const GHOST_LIMIT = 1024 * 1024;

/** Character devices that can simply be opened again by path. */
const SIMPLE_CHARDEVS = new Set(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom']);


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
    // Programs and libraries: their build-id too, so a restore refuses another build of the same size.
    const buildId = opts.mapped && st.isFile() ? readBuildId(path) : undefined;
    if (buildId) reg.build_id = buildIdWords(buildId);
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
    const st = f.stat();
    const id = ctx.fileIds.next();
    const flags = f.info.flags & ~O.CLOEXEC;
    const deleted = deletedPath(f.link);
    const name = deleted ?? f.link;
    // An O_PATH fd only names its inode (no reads, writes or device calls): whatever it is — a
    // symlink opened with O_NOFOLLOW, a device — it is opened again by path with O_PATH.
    const pathOnly = (flags & O.PATH) !== 0;
    if (pathOnly) {
      /* any kind of inode */
    } else if (st.isCharacterDevice()) {
      if (!SIMPLE_CHARDEVS.has(name)) {
        throw new UnsupportedError(`${f.pid}: fd ${f.fd} is the character device ${name}`, {
          hint: name.startsWith('/dev/pts') || name.startsWith('/dev/tty') ? 'a terminal cryo does not know (only ptys, VTs, serial lines and the console are)' : 'only /dev/null, /dev/zero, /dev/full, /dev/random and /dev/urandom are supported',
        });
      }
    } else if (!st.isFile() && !st.isDirectory()) {
      throw new UnsupportedError(`${f.pid}: fd ${f.fd}: ${f.link} (mode ${st.mode.toString(8)})`, {
        hint: 'by path cryo opens regular files, directories and simple character devices again (and anything through an O_PATH fd)',
      });
    }
    const reg: Entry = { id, flags, pos: f.info.pos, fown: FOWN, name, mode: st.mode };
    if (st.isFile()) reg.size = BigInt(st.size);
    if (deleted !== undefined && st.nlink === 0 && (st.isFile() || st.isDirectory())) saveGhost(ctx, id, f.pid, f.link, `fd ${f.fd}`, `/proc/${f.pid}/fd/${f.fd}`, st);
    return { type: FD_TYPE.REG, id, reg };
  },
};

/**
 * Saves the deleted file `source` (a /proc magic link to it) as a ghost image, once per inode: the
 * fds, mappings and cwds of one deleted file or directory, in any process of the tree, share one
 * ghost, recreated once at restore so they share one file again. `what` names the user for the
 * refusal (`fd 3`). A directory's ghost has no content.
 */
function saveGhost(ctx: DumpContext, id: number, pid: number, shown: string, what: string, source: string, st: ReturnType<typeof statSync> & object): void {
  const key = `${st.dev}:${st.ino}`;
  let remapId = ctx.ghosts.get(key);
  if (remapId === undefined) {
    const size = st.isDirectory() ? 0 : Number(st.size);
    if (size > ctx.ghostLimit) {
      throw new UnsupportedError(`${pid}: can't dump ghost file ${shown} of ${size} bytes (${what}), increase limit`, {
        hint: `deleted files still open or mapped are saved into the images up to --ghost-limit (now ${ctx.ghostLimit} bytes)`,
      });
    }
    const content = Buffer.alloc(size);
    if (size > 0) {
      const fd = openSync(source, 'r');
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
    }
    remapId = ctx.fileIds.next();
    const ms = (t: number): Entry => ({ tv_sec: BigInt(Math.floor(t / 1000)), tv_usec: BigInt(Math.round((t % 1000) * 1000)) });
    const ghost: Entry = {
      uid: Number(st.uid), gid: Number(st.gid), mode: Number(st.mode), dev: Number(st.dev) >>> 0, ino: BigInt(st.ino),
      atim: ms(Number(st.atimeMs)), mtim: ms(Number(st.mtimeMs)), chunks: false, size: BigInt(size),
    };
    ctx.images.write('GHOST_FILE', [ghost], { id: remapId, payloads: [content] });
    ctx.ghosts.set(key, remapId);
  }
  ctx.remaps.push({ orig_id: id, remap_id: remapId, remap_type: 1 /* GHOST */ });
}

/**
 * The files.img REG id of a deleted file or directory that a process maps or has as its cwd, root
 * or exe (`name`: its path, without /proc's " (deleted)"; `source`: the /proc magic link to it):
 * one entry per inode, saved as a ghost as CRIU does — a POSIX semaphore or shm_open() object
 * unlinked after mmap, a scratch file, a removed working directory. One replaced under its name
 * but still linked elsewhere (nlink > 0) is refused.
 */
function internGhost(ctx: DumpContext, pid: number, name: string, what: string, source: string): number {
  let st: ReturnType<typeof statSync> & object;
  try {
    st = statSync(source);
  } catch (e) {
    throw new RuntimeError(`${pid}: can't stat the deleted file ${name} (${what}): ${(e as Error).message}`, { cause: e });
  }
  if (!(st.isFile() || st.isDirectory())) {
    throw new UnsupportedError(`${pid}: ${what}: the deleted ${name} is neither a regular file nor a directory (mode ${st.mode.toString(8)})`);
  }
  if (st.nlink !== 0) {
    throw new UnsupportedError(`${pid}: ${what}: the deleted file ${name} is still linked elsewhere`, {
      hint: 'the file was replaced (a package upgrade?) while in use; restart the process before checkpointing',
    });
  }
  const key = `\0ghost ${st.dev}:${st.ino}`;
  const have = ctx.regIds.get(key);
  if (have !== undefined) return have;
  const id = ctx.fileIds.next();
  const reg: Entry = { id, flags: 0, pos: 0n, fown: FOWN, name, mode: st.mode };
  if (st.isFile()) reg.size = BigInt(st.size);
  ctx.files.push({ type: FD_TYPE.REG, id, reg });
  ctx.regIds.set(key, id);
  saveGhost(ctx, id, pid, name, what, source, st);
  return id;
}

/**
 * The files.img REG id of what the /proc magic link `/proc/PID/<which>` (cwd, root, exe) points to,
 * `link` as /proc prints it: by path, or a ghost when it was deleted (see internGhost).
 */
export function internLinked(ctx: DumpContext, pid: number, link: string, which: 'cwd' | 'root' | 'exe'): number {
  const deleted = deletedPath(link);
  if (deleted === undefined) return internRegFile(ctx, pid, link, { mapped: which === 'exe' });
  return internGhost(ctx, pid, deleted, which, `/proc/${pid}/${which}`);
}

/** The files.img REG id of the deleted file mapped at `v` (see internGhost). */
export function internMappedGhost(ctx: DumpContext, pid: number, v: Vma): number {
  return internGhost(ctx, pid, v.path, `mapped at 0x${v.start.toString(16)}`, `/proc/${pid}/map_files/${v.start.toString(16)}-${v.end.toString(16)}`);
}

/** Writes the images that collect across processes: files.img and remap-fpath.img. */
export function writeFileImages(ctx: DumpContext): void {
  writeTtyImages(ctx);
  finishUnixDump(ctx);
  ctx.images.write('FILES', ctx.files);
  if (ctx.remaps.length) ctx.images.write('REMAP_FPATH', ctx.remaps);
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
  open(ctx, file) {
    const p = file.pipe as Entry;
    const ends = pipeEnds(ctx, Number(p.pipe_id));
    const writer = (Number(p.flags) & O.ACCMODE) === O.WRONLY;
    const fd = dupFd(writer ? ends[1] : ends[0]);
    fcntl(fd, F.SETFL, Number(p.flags) & ~O.ACCMODE);
    return fd;
  },
};

export function writePipeData(ctx: DumpContext): void {
  writePipeDataImage(ctx, 'PIPES_DATA', ctx.pipeData);
}

// Before regularFile: memfds, FIFOs and terminals have paths too.
const FD_KINDS: readonly FdKind[] = [pipes, eventfdKind, signalfdKind, timerfdKind, eventpollKind, inotifyKind, memfdKind, fifoKind, unixSocketKind, inetSocketKind, netlinkSocketKind, ttyKind, regularFile];

const UNSUPPORTED_HINTS: readonly [RegExp, string][] = [
  [/^socket:/, 'only unix, IPv4 and IPv6 (TCP, UDP) and netlink sockets are supported (not packet …)'],
  [/io_uring/, 'io_uring cannot be checkpointed (CRIU cannot either)'],
  [/^anon_inode:/, 'this kind of anonymous-inode file is not supported yet'],
];

/**
 * fdinfo-ID.img (one entry per fd) and files.img entries for one fd table. Returns the table as
 * read, for the parts that look at it again (file locks).
 */
export function dumpFds(ctx: DumpContext, proc: FrozenProcess, filesId: number): FdFacts[] {
  const pid = proc.pid;
  const fdinfo: Entry[] = [];
  const table: FdFacts[] = [];
  for (const { fd, link } of readFdLinks(pid)) {
    const info = readFdinfo(pid, fd);
    const facts = fdFacts(pid, fd, link, info);
    table.push(facts);
    // dup()ed and inherited fds share one open file description (one offset), in this process
    // or another of the tree: keep them sharing.
    const place = locateDescription(ctx.descriptions, facts);
    let id: number;
    let type: number;
    if (place.same) {
      id = place.same.id;
      type = place.same.type;
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
      place.list.splice(place.at, 0, { facts, id, type });
    }
    fdinfo.push({ id, flags: info.flags & O.CLOEXEC ? FD_CLOEXEC : 0, type, fd });
  }
  ctx.images.write('FDINFO', fdinfo, { id: filesId });
  return table;
}

/** fs-PID.img: cwd, root and umask of one process. */
export function dumpFs(ctx: DumpContext, pid: number): void {
  const cwd = internLinked(ctx, pid, readCwd(pid), 'cwd');
  const root = internLinked(ctx, pid, readRoot(pid), 'root');
  const umask = readStatus(pid).umask ?? 0o022;
  ctx.images.write('FS', [{ cwd_id: cwd, root_id: root, umask }], { id: pid });
}

export interface Description {
  readonly facts: FdFacts;
  readonly id: number;
  /** fd_types of its files.img entry. */
  readonly type: number;
}

/**
 * fds that can share a description: the same link, offset and status flags (all three belong to
 * the description; close-on-exec belongs to the fd). kcmp decides among those.
 */
function descriptionKey(f: FdFacts): string {
  return `${f.info.pos}:${f.info.flags & ~O.CLOEXEC}:${f.link}`;
}

/**
 * kcmp(KCMP_FILE) orders open file descriptions (0 equal, 1 less, 2 greater), across processes
 * too, so the distinct descriptions of one key are kept sorted and each fd is looked up by binary
 * search: a thousand fds of one file at one offset cost thousands of kcmp calls, not half a million.
 */
function kcmpOrder(a: FdFacts, b: FdFacts): number {
  return kcmpFile(a.pid, a.fd, b.pid, b.fd);
}

/**
 * Where `f`'s open file description is in its key's sorted list (`same`), or where it would go
 * (`at`): one binary search, whose place the caller inserts at (nothing else adds descriptions
 * in between).
 */
function locateDescription(byKey: Map<string, Description[]>, f: FdFacts): { list: Description[]; at: number; same?: Description } {
  const key = descriptionKey(f);
  let list = byKey.get(key);
  if (!list) byKey.set(key, (list = []));
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = kcmpOrder(f, list[mid]!.facts);
    if (c === 0) return { list, at: mid, same: list[mid] };
    if (c === 1) hi = mid;
    else lo = mid + 1;
  }
  return { list, at: lo };
}

/** ---- restore ---- */


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

/** A ghost recreated for a restore: the path, and whether it (and `parents`, made for it) are directories to rmdir. */
interface RecreatedGhost {
  readonly path: string;
  readonly dir: boolean;
  /** Missing parent directories made for it, deepest first (a removed directory tree). */
  readonly parents: readonly string[];
}

/** Makes the missing ancestors of `path`, returning them deepest first. */
function makeParents(path: string): string[] {
  const made: string[] = [];
  for (let p = dirname(path); !existsSync(p); p = dirname(p)) made.push(p);
  for (const p of [...made].reverse()) mkdirSync(p, 0o700);
  return made;
}

function recreateGhost(ctx: RestoreContext, remapId: number, name: string): RecreatedGhost {
  const [{ entry, payload }] = ctx.images.readWithPayloads('GHOST_FILE', remapId) as { entry: Entry; payload?: Buffer }[] as [{ entry: Entry; payload?: Buffer }];
  const mode = Number(entry.mode);
  const dir = (mode & fsConstants.S_IFMT) === fsConstants.S_IFDIR;
  let parents: string[] = [];
  try {
    parents = makeParents(name);
  } catch (e) {
    throw new RuntimeError(`can't recreate deleted file ${name}: ${(e as Error).message}`, { cause: e });
  }
  for (let i = 0; ; i++) {
    const path = i === 0 ? name : `${name}.cryo-ghost-${process.pid}-${i}`;
    try {
      if (dir) mkdirSync(path, mode & 0o7777);
      else writeFileSync(path, payload ?? Buffer.alloc(0), { flag: 'wx', mode: mode & 0o7777 });
      chmodSync(path, mode & 0o7777);
      try {
        chownSync(path, Number(entry.uid), Number(entry.gid));
      } catch {
        /* keep root's */
      }
      return { path, dir, parents };
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST' || i > 100) {
        throw new RuntimeError(`can't recreate deleted ${dir ? 'directory' : 'file'} ${name}: ${(e as Error).message}`, { cause: e });
      }
    }
  }
}

/** Opens every fd of the image in the task, at its number, sharing descriptions as dumped. */
export function restoreFds(ctx: RestoreContext, task: RestoreTask, filesId: number): void {
  const t = task.remote.leader;
  // Everything the helper had open goes first.
  t.call('close_range', NR.close_range, 0, 0xffffffff, 0);
  task.cryoPidfd = undefined;
  const table = ctx.fdTables.get(filesId);
  if (!table) throw new InternalError(`fd table ${filesId} was not loaded`);
  const fdinfo = [...table].sort((a, b) => a.fd - b.fd);
  const opened = new Map<number, number>(); // file id → fd in the task holding it
  const late: (() => void)[] = [];
  // Spare fds (cryo's pidfd in the task) live above every fd of the image.
  task.spareFdBase = fdinfo.reduce((m, e) => Math.max(m, Number(e.fd)), 0) + 1;
  for (const e of fdinfo) {
    const id = Number(e.id);
    const cloexec = (e.flags & FD_CLOEXEC) !== 0;
    const first = opened.get(id);
    if (first !== undefined) {
      t.call('dup3', NR.dup3, first, e.fd, cloexec ? O.CLOEXEC : 0);
      continue;
    }
    const file = ctx.files.get(id);
    if (!file) throw new RuntimeError(`fdinfo-${filesId}.img: fd ${e.fd} names file id ${id}, missing from files.img`);
    let fd: number;
    const own = ctx.ownFds.get(id);
    if (own !== undefined) {
      // Already built for another process of the tree (or in cryo): the same description.
      fd = installFd(task, own);
    } else if (file.type === FD_TYPE.REG) {
      const reg = file.reg as Entry;
      fd = openInTask(task, regFilePath(ctx, id), reopenFlags(Number(reg.flags)));
      if (BigInt(reg.pos ?? 0) !== 0n) t.call('lseek', NR.lseek, fd, BigInt(reg.pos), 0);
    } else {
      const kind = FD_KINDS.find((k) => k.type === file.type && (k.restore || k.open));
      if (!kind) throw new RuntimeError(`files.img: fd ${e.fd} has a file type (${file.type}) this cryo can't restore`);
      if (kind.restore) fd = kind.restore(ctx, task, file);
      else {
        const mine = kind.open!(ctx, file);
        ctx.ownFds.set(id, mine);
        fd = installFd(task, mine);
      }
      if (kind.afterAll) late.push(() => kind.afterAll!(ctx, task, file, e.fd));
    }
    if (own === undefined && !ctx.ownFds.has(id) && ctx.sharedFiles.has(id)) {
      // Other processes of the tree use this description too: keep a copy to hand them.
      ctx.ownFds.set(id, copyFdOf(task.pid, fd));
    }
    placeFd(task, fd, e.fd, cloexec);
    opened.set(id, e.fd);
  }
  for (const run of late) run();
  closeCryoPidfd(task);
}

/**
 * Before any process is made: every regular file the images name by path (open, mapped, the exe)
 * is there and has the size it had at the dump, as CRIU checks ("has bad size"), and a program or
 * library its ELF build-id ("has bad build-ID") — a different version of a program or library, or
 * a data file written since, would be restored into a task that expects the old one. A file open write-only (a log: the task never reads it) may have
 * grown — CRIU lets only O_WRONLY|O_APPEND ones, and refuses a service whose `>` log grew since.
 * Deleted files (their ghost is in the images) and /proc files are not looked at. Every problem
 * is reported at once.
 */
export function checkRegFiles(ctx: RestoreContext): void {
  const ghosts = ghostImages(ctx);
  const problems: string[] = [];
  for (const [id, file] of ctx.files) {
    const reg = file.reg as Entry | undefined;
    if (file.type !== FD_TYPE.REG || !reg || reg.size === undefined || ghosts.has(id)) continue;
    const name = reg.name as string;
    const flags = Number(reg.flags ?? 0);
    if (name.startsWith('/proc/')) continue;
    let size: number;
    try {
      const st = statSync(name);
      if (!st.isFile()) continue;
      size = st.size;
    } catch (e) {
      problems.push(`Can't open file ${name} on restore: ${(e as { code?: string }).code ?? (e as Error).message}`);
      continue;
    }
    // CRIU's wording, which users search for.
    if (BigInt(size) !== BigInt(reg.size) && (flags & O.ACCMODE) !== O.WRONLY) problems.push(`File ${name} has bad size ${size} (expect ${reg.size})`);
    else if (Array.isArray(reg.build_id) && reg.build_id.length > 0) {
      const now = readBuildId(name);
      const want = (reg.build_id as number[]).map(Number);
      if (!now || buildIdWords(now).join(',') !== want.join(',')) problems.push(`File ${name} has bad build-ID`);
    }
  }
  if (problems.length === 0) return;
  throw new RuntimeError(`files have changed since the dump:\n  ${[...new Set(problems)].join('\n  ')}`, {
    hint: 'a restore needs the files the processes had open or mapped as they were at the dump (the same program and library versions, data files not written since)',
  });
}

/**
 * The path a task opens files.img REG entry `id` by: its name, or for a deleted file the ghost
 * recreated from its image — once per ghost, so every fd and mapping of it, in every process,
 * shares one file again. removeGhosts() unlinks them.
 */
export function regFilePath(ctx: RestoreContext, id: number): string {
  const name = (ctx.files.get(id)?.reg as Entry | undefined)?.name as string | undefined;
  if (name === undefined) throw new RuntimeError(`files.img: regular file id ${id} is missing`);
  const remapId = ghostImages(ctx).get(id);
  if (remapId === undefined) return name;
  ctx.ghosts ??= new Map();
  let ghost = ctx.ghosts.get(remapId);
  if (ghost === undefined) {
    ghost = recreateGhost(ctx, remapId, name);
    ctx.ghosts.set(remapId, ghost);
  }
  return ghost.path;
}

/**
 * Removes the ghosts recreated for the restore, and the parents made for them (every process has
 * opened, mapped or entered them, or the restore failed). Files first: a ghost file may sit in a
 * ghost directory.
 */
export function removeGhosts(ctx: RestoreContext): void {
  const ghosts = [...(ctx.ghosts?.values() ?? [])].sort((a, b) => Number(a.dir) - Number(b.dir) || b.path.length - a.path.length);
  const remove = (path: string, dir: boolean): void => {
    try {
      if (dir) rmdirSync(path);
      else unlinkSync(path);
    } catch (e) {
      ctx.log.warn(`can't remove the recreated deleted ${dir ? 'directory' : 'file'} ${path}: ${(e as Error).message}`);
    }
  };
  for (const g of ghosts) remove(g.path, g.dir);
  for (const g of ghosts) for (const p of g.parents) if (existsSync(p)) remove(p, true);
  ctx.ghosts?.clear();
}

/** remap-fpath.img, read once per restore: file id → ghost image (remap) id. */
function ghostImages(ctx: RestoreContext): Map<number, number> {
  if (!ctx.ghostOf) {
    ctx.ghostOf = new Map();
    for (const r of (ctx.images.readOptional('REMAP_FPATH') ?? []) as Entry[]) ctx.ghostOf.set(Number(r.orig_id), Number(r.remap_id));
  }
  return ctx.ghostOf;
}

/** Closes cryo's copies of the tasks' descriptions (before the tasks are let go: pipe EOFs). */
export function closeOwnFds(ctx: RestoreContext): void {
  for (const fd of ctx.ownFds.values()) closeFd(fd);
  ctx.ownFds.clear();
  for (const ends of ctx.pipes.values()) ends.forEach(closeFd);
  ctx.pipes.clear();
  for (const shm of ctx.shmem.values()) closeFd(shm.fd);
  ctx.shmem.clear();
}

/** Both ends of a pipe, built in cryo and refilled with its dumped data, once per pipe. */
function pipeEnds(ctx: RestoreContext, ino: number): [number, number] {
  let ends = ctx.pipes.get(ino);
  if (ends) return ends;
  ends = pipe(O.CLOEXEC);
  ctx.pipes.set(ino, ends);
  ctx.pipeData ??= readPipeDataImage(ctx, 'PIPES_DATA');
  const data = ctx.pipeData.get(ino);
  if (data) {
    writePipeBytes(ends[1], data);
    ctx.log.debug(`pipe ${ino} refilled with ${data.entry.bytes} bytes`);
  }
  return ends;
}

/** cwd, root and umask. */
export function restoreFs(ctx: RestoreContext, task: RestoreTask): void {
  const [fs] = ctx.images.read('FS', task.pid) as Entry[];
  if (!fs) return;
  const t = task.remote.leader;
  const dir = (id: number): string => {
    if (!ctx.files.get(id)?.reg) throw new RuntimeError(`fs-${task.pid}.img: directory id ${id} missing from files.img`);
    return regFilePath(ctx, id);
  };
  const root = dir(Number(fs.root_id));
  if (root !== '/') t.call('chroot', NR.chroot, task.remote.putString(PATH_OFF, root));
  t.call('chdir', NR.chdir, task.remote.putString(PATH_OFF, dir(Number(fs.cwd_id))));
  if (fs.umask !== undefined) t.call('umask', NR.umask, Number(fs.umask));
}

