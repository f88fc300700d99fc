// The shape every kind of file descriptor module has: how to recognise it, how to dump its open
// file description into a files.img entry, and how to re-create it inside a task being restored.
import { statSync, type Stats } from 'node:fs';
import { AT_FDCWD, NR, O, SyscallError, closeFd, copyFdOf } from '../../native/index.ts';
import { RuntimeError } from '../../errors.ts';
import type { DumpContext, RestoreContext, RestoreTask } from '../context.ts';
import type { Fdinfo } from '../proc/index.ts';

export type Entry = Record<string, any>;

/** The facts of fd `fd` of `pid`; stat() follows the fd's link on first use and remembers it. */
export function fdFacts(pid: number, fd: number, link: string, info: Fdinfo): FdFacts {
  let st: Stats | undefined;
  return { pid, fd, link, info, stat: () => (st ??= statSync(`/proc/${pid}/fd/${fd}`)) };
}

/** What cryo knows about one fd of a task while dumping it. */
export interface FdFacts {
  readonly pid: number;
  readonly fd: number;
  /** readlink of /proc/PID/fd/N: a path, `pipe:[ino]`, `anon_inode:[eventfd]` … */
  readonly link: string;
  readonly info: Fdinfo;
  /** stat of /proc/PID/fd/N (the file itself), taken once however many kinds ask. */
  readonly stat: () => Stats;
}

export interface FdKind {
  readonly name: string;
  /** fd_types value of the files.img entries this kind writes. */
  readonly type: number;
  matches(f: FdFacts): boolean;
  /** The file_entry for this fd's open file description. */
  dump(ctx: DumpContext, f: FdFacts): Entry;
  /**
   * Creates the open file description in the task (injected syscalls); returns the task's new fd
   * (placed at its number by the caller). A kind has `restore` or `open`.
   */
  restore?(ctx: RestoreContext, task: RestoreTask, file: Entry): number;
  /**
   * Creates the open file description in cryo's own process and returns cryo's fd; the caller
   * installs it into the task (installFd) and closes cryo's copy. For objects cryo can build
   * better from outside (sockets: bind, connect, TCP repair).
   */
  open?(ctx: RestoreContext, file: Entry): number;
  /**
   * Runs once every fd of the task is at its number: for descriptions that refer to other fds
   * (an epoll set's targets). `fd` is the task's fd of this description.
   */
  afterAll?(ctx: RestoreContext, task: RestoreTask, file: Entry, fd: number): void;
}

/**
 * Runs `fn` on a copy of the task's fd in cryo's own fd table (pidfd_getfd: the same open file
 * description, so socket calls and peeks see the task's object), closing the copy afterwards.
 */
export function withOwnCopy<T>(pid: number, fd: number, fn: (own: number) => T): T {
  const own = copyFdOf(pid, fd);
  try {
    return fn(own);
  } finally {
    closeFd(own);
  }
}

/**
 * Puts a copy of cryo's fd `ownFd` into the task (the task runs pidfd_getfd on cryo, injected)
 * and returns the task's new fd. The copy shares the open file description with cryo's fd;
 * cryo may close its own afterwards. The task's close-on-exec pidfd of cryo is opened once
 * (closed by closeCryoPidfd).
 */
export function installFd(task: RestoreTask, ownFd: number): number {
  const t = task.remote.leader;
  if (task.cryoPidfd === undefined) {
    // Above every fd of the image, so placing those never closes it.
    const low = Number(t.call('pidfd_open', NR.pidfd_open, process.pid, 0));
    task.cryoPidfd = Number(t.call('fcntl', NR.fcntl, low, 1030 /* F_DUPFD_CLOEXEC */, task.spareFdBase ?? 0));
    t.call('close', NR.close, low);
  }
  return Number(t.call('pidfd_getfd', NR.pidfd_getfd, task.cryoPidfd, ownFd, 0));
}

export function closeCryoPidfd(task: RestoreTask): void {
  if (task.cryoPidfd === undefined) return;
  task.remote.leader.call('close', NR.close, task.cryoPidfd);
  task.cryoPidfd = undefined;
}

// Scratch offset for paths passed to injected openat/chdir.
export const PATH_OFF = 8192;

/** openat() inside the task; returns the task's new fd. */
export function openInTask(task: RestoreTask, path: string, flags: number, mode = 0): number {
  const p = task.remote.putString(PATH_OFF, path);
  try {
    return Number(task.remote.leader.call('openat', NR.openat, AT_FDCWD, p, flags, mode));
  } catch (e) {
    if (!(e instanceof SyscallError)) throw e;
    throw new RuntimeError(`${task.pid}: can't open ${path} (flags 0o${flags.toString(8)}): ${e.code}`, { cause: e, hint: e.hint });
  }
}

/**
 * The flags a regular file's fd is opened again with: as dumped, but a file made with O_TMPFILE
 * (its flags say so) is opened again by the name of its ghost, as a plain file.
 */
export function reopenFlags(dumped: number): number {
  const flags = dumped & ~(O.CREAT | O.TRUNC | O.EXCL);
  return flags & O.TMPFILE_BIT ? flags & ~(O.TMPFILE_BIT | O.DIRECTORY) : flags;
}

export const FOWN = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };

/** Flags that survive in an anonymous-inode file's status flags (O_NONBLOCK is the one that matters). */
export const O_NONBLOCK = 0o4000;
