// Syscalls cryo makes on its own behalf, about other processes (no injection needed).
import { SyscallError, check } from './check.ts';
import { NR, O, SIG } from './constants.ts';
import { lastErrno, sys, syscallArgs } from './libc.ts';

export function pidfdOpen(pid: number): number {
  return check(sys.syscall(NR.pidfd_open, pid, 0, 0, 0, 0, 0), 'pidfd_open', String(pid));
}

/** Duplicates fd `targetFd` of the process behind `pidfd` into cryo's own fd table. */
export function pidfdGetfd(pidfd: number, targetFd: number, pid: number): number {
  return check(sys.syscall(NR.pidfd_getfd, pidfd, targetFd, 0, 0, 0, 0), 'pidfd_getfd', `${pid}, fd ${targetFd}`);
}

/** A copy of fd `fd` of process `pid` in cryo's own fd table (pidfd_open + pidfd_getfd): the same open file description. */
export function copyFdOf(pid: number, fd: number): number {
  const pidfd = pidfdOpen(pid);
  try {
    return pidfdGetfd(pidfd, fd, pid);
  } finally {
    closeFd(pidfd);
  }
}

/** pidfd_open that returns -1 instead of throwing (the process may be gone). */
export function tryPidfdOpen(pid: number): number {
  return Number(sys.syscall(NR.pidfd_open, pid, 0, 0, 0, 0, 0));
}

/**
 * Frees the memory of a process that is being killed from cryo's thread (process_mrelease, Linux
 * 5.15) while the process frees it too in its exit, so that it is gone sooner. False when it could
 * not (not dying, its memory shared with a process that is not, an older kernel).
 */
export function releaseDyingMemory(pidfd: number): boolean {
  return Number(sys.syscall(NR.process_mrelease, pidfd, 0, 0, 0, 0, 0)) === 0;
}

// glibc's sizes on x86_64 (posix_spawn_file_actions_t 80 bytes, posix_spawnattr_t 336, sigset_t
// 128), with room to spare.
const SPAWN_ACTIONS_BYTES = 256;
const SPAWN_ATTR_BYTES = 512;
const SIGSET_BYTES = 128;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;

/**
 * Starts `argv[0]` (an absolute path) as cryo's child with posix_spawn — not through libuv, which
 * would reap the child's ptrace stops as its exit — with stdin, stdout and stderr on /dev/null,
 * every signal at its default and none blocked, an empty environment. Returns its pid.
 */
export function spawnPlainChild(argv: readonly string[]): number {
  const actions = Buffer.alloc(SPAWN_ACTIONS_BYTES);
  const attr = Buffer.alloc(SPAWN_ATTR_BYTES);
  const failed = (call: string, rc: number): never => {
    throw new SyscallError(call, rc, argv[0]!);
  };
  let rc = sys.spawnActionsInit(actions);
  if (rc) failed('posix_spawn_file_actions_init', rc);
  try {
    rc = sys.spawnAttrInit(attr);
    if (rc) failed('posix_spawnattr_init', rc);
    try {
      for (const [fd, oflag] of [[0, O.RDONLY], [1, O.WRONLY]] as const) {
        rc = sys.spawnActionsOpen(actions, fd, '/dev/null', oflag, 0);
        if (rc) failed('posix_spawn_file_actions_addopen', rc);
      }
      rc = sys.spawnActionsDup2(actions, 1, 2);
      if (rc) failed('posix_spawn_file_actions_adddup2', rc);
      // Every signal but SIGKILL and SIGSTOP (which have no disposition to set) to its default.
      const all = Buffer.alloc(SIGSET_BYTES, 0xff);
      for (const sig of [SIG.SIGKILL, SIG.SIGSTOP]) all[(sig - 1) >> 3]! &= ~(1 << ((sig - 1) & 7));
      rc = sys.spawnAttrSetSigDefault(attr, all) || sys.spawnAttrSetSigMask(attr, Buffer.alloc(SIGSET_BYTES)) || sys.spawnAttrSetFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
      if (rc) failed('posix_spawnattr_set*', rc);
      const pid = new Int32Array(1);
      rc = sys.posixSpawn(pid, argv[0]!, actions, attr, [...argv, null], [null]);
      if (rc) failed('posix_spawn', rc);
      return pid[0]!;
    } finally {
      sys.spawnAttrDestroy(attr);
    }
  } finally {
    sys.spawnActionsDestroy(actions);
  }
}

export function closeFd(fd: number): void {
  sys.close(fd);
}

export function getRlimit(pid: number, resource: number): { cur: bigint; max: bigint } {
  const old = Buffer.alloc(16);
  check(sys.prlimit(pid, resource, null, old), 'prlimit', `${pid}, ${resource}`);
  return { cur: old.readBigUInt64LE(0), max: old.readBigUInt64LE(8) };
}

export function setRlimit(pid: number, resource: number, cur: bigint, max: bigint): void {
  const lim = Buffer.alloc(16);
  lim.writeBigUInt64LE(cur, 0);
  lim.writeBigUInt64LE(max, 8);
  check(sys.prlimit(pid, resource, lim, null), 'prlimit', `${pid}, ${resource}`);
}

export function getRobustList(tid: number): { head: bigint; len: number } {
  const head = Buffer.alloc(8);
  const len = Buffer.alloc(8);
  check(sys.syscallBuf(NR.get_robust_list, tid, head, len, 0, 0, 0), 'get_robust_list', String(tid));
  return { head: head.readBigUInt64LE(0), len: Number(len.readBigUInt64LE(0)) };
}

export function sendSignal(pid: number, sig: number): boolean {
  return sys.kill(pid, sig) === 0;
}

export function tgkill(tgid: number, tid: number, sig: number): boolean {
  return sys.syscall(NR.tgkill, tgid, tid, sig, 0, 0, 0) === 0;
}

/** Bytes queued in a pipe or socket (FIONREAD). */
export function bytesQueued(fd: number): number {
  const buf = Buffer.alloc(4);
  check(sys.ioctlBuf(fd, 0x541b, buf), 'ioctl', `FIONREAD, fd ${fd}`);
  return buf.readInt32LE(0);
}

export function fcntl(fd: number, cmd: number, arg = 0): number {
  return check(sys.fcntl(fd, cmd, arg), 'fcntl', `${fd}, ${cmd}`);
}

/** memfd_create(2) in cryo (close-on-exec): the shared memory object behind restored shared mappings. */
export function memfdCreate(name: string): number {
  const b = Buffer.from(`${name}\0`);
  return check(syscallArgs(NR.memfd_create, b, 1 /* MFD_CLOEXEC */), 'memfd_create', name);
}

export function ftruncate(fd: number, size: bigint): void {
  check(syscallArgs(77 /* ftruncate */, fd, size), 'ftruncate', `fd ${fd}, ${size}`);
}

/**
 * lseek SEEK_DATA (or with `hole`, SEEK_HOLE): where the next data (or hole) of file `fd` starts
 * at or after `off`; -1 when no data follows (ENXIO); undefined when the file system can't say
 * (EINVAL), so the caller reads it all.
 */
export function seekData(fd: number, off: number, hole = false): number | undefined {
  const r = syscallArgs(8 /* lseek */, fd, off, hole ? 4 /* SEEK_HOLE */ : 3 /* SEEK_DATA */);
  if (r !== -1) return r;
  const errno = lastErrno();
  if (errno === 6 /* ENXIO */) return -1;
  if (errno === 22 /* EINVAL */) return undefined;
  throw new SyscallError('lseek', errno, `fd ${fd}, ${off}, ${hole ? 'SEEK_HOLE' : 'SEEK_DATA'}`);
}

/** A close-on-exec duplicate of one of cryo's fds. */
export function dupFd(fd: number): number {
  return check(sys.fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, 0), 'fcntl', `${fd}, F_DUPFD_CLOEXEC`);
}

export function pipe(flags = 0): [number, number] {
  const fds = Buffer.alloc(8);
  check(sys.pipe2(fds, flags), 'pipe2', String(flags));
  return [fds.readInt32LE(0), fds.readInt32LE(4)];
}

/** Copies up to len queued bytes from one pipe to another without consuming them. */
export function tee(fdIn: number, fdOut: number, len: number, flags: number): number {
  return check(sys.tee(fdIn, fdOut, len, flags), 'tee', `${fdIn} -> ${fdOut}`);
}

export function readFd(fd: number, buf: Uint8Array): number {
  return check(sys.read(fd, buf, buf.byteLength), 'read', `fd ${fd}`);
}
export function writeFd(fd: number, buf: Uint8Array): number {
  return check(sys.write(fd, buf, buf.byteLength), 'write', `fd ${fd}`);
}

export interface SchedInfo {
  readonly policy: number;
  readonly prio: number;
  readonly nice: number;
}
/** Scheduling policy, static priority and nice value of a thread (read from outside). */
export function getSched(tid: number): SchedInfo {
  const policy = check(sys.syscall(NR.sched_getscheduler, tid, 0, 0, 0, 0, 0), 'sched_getscheduler', String(tid)) & ~0x40000000;
  const param = Buffer.alloc(4);
  check(sys.syscallBuf(NR.sched_getparam, tid, param, null, 0, 0, 0), 'sched_getparam', String(tid));
  // the raw getpriority syscall returns 20 - nice, so that it is never negative
  const prio = check(sys.syscall(NR.getpriority, 0 /* PRIO_PROCESS */, tid, 0, 0, 0, 0), 'getpriority', String(tid));
  return { policy, prio: param.readInt32LE(0), nice: 20 - prio };
}
export function setSched(tid: number, s: SchedInfo): void {
  const param = Buffer.alloc(4);
  param.writeInt32LE(s.prio, 0);
  check(sys.syscallArg3(NR.sched_setscheduler, tid, s.policy, param, 0, 0, 0), 'sched_setscheduler', String(tid));
  check(sys.syscall(NR.setpriority, 0, tid, s.nice, 0, 0, 0), 'setpriority', `${tid}, ${s.nice}`);
}

/** Makes cryo a child subreaper (or not): orphans in its subtree (the restore helper) become its children. */
export function setChildSubreaper(on = true): void {
  check(sys.syscall(NR.prctl, 36 /* PR_SET_CHILD_SUBREAPER */, on ? 1 : 0, 0, 0, 0, 0), 'prctl', 'PR_SET_CHILD_SUBREAPER');
}
export function isChildSubreaper(): boolean {
  const v = Buffer.alloc(4);
  check(sys.syscallBuf(NR.prctl, 37 /* PR_GET_CHILD_SUBREAPER */, v, null, 0, 0, 0), 'prctl', 'PR_GET_CHILD_SUBREAPER');
  return v.readInt32LE(0) !== 0;
}

/**
 * kcmp(KCMP_FILE) of two fds (of two processes): 0 when they refer to the same open file
 * description, else 1 or 2 ordering the two descriptions (3 when the kernel can't order them).
 */
export function kcmpFile(pid1: number, fd1: number, pid2: number, fd2: number): number {
  return check(sys.syscall(NR.kcmp, pid1, pid2, 0 /* KCMP_FILE */, fd1, fd2, 0), 'kcmp', `${pid1}:${fd1}, ${pid2}:${fd2}`);
}

export const KCMP = { VM: 1, FILES: 2, FS: 3, SIGHAND: 4 } as const;

/** Whether two processes share one kernel object (an mm, fd table, fs struct, signal handlers). */
export function kcmpShares(pid1: number, pid2: number, type: number): boolean {
  return check(sys.syscall(NR.kcmp, pid1, pid2, type, 0, 0, 0), 'kcmp', `${pid1}, ${pid2}, ${type}`) === 0;
}

/** execvp(3): only returns on failure. */
export function execProgram(argv: readonly string[]): never {
  sys.execvp(argv[0]!, [...argv, null]);
  check(-1, 'execvp', argv[0]!);
  throw new Error('unreachable');
}
