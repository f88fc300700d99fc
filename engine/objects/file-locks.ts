// File locks (filelocks.img, --file-locks): flock, POSIX (fcntl F_SETLK) and OFD locks a task holds,
// read from its fdinfo `lock:` lines, which name the fd whose open file description took each
// lock. Without --file-locks a task holding one is refused, as CRIU does. Restore takes them again
// in the task (injected flock / fcntl F_SETLK, never blocking) once its fds are at their numbers.
import { F, NR, SyscallError } from '../../native/index.ts';
import { RuntimeError, UnsupportedError } from '../../errors.ts';
import type { DumpContext, RestoreContext, RestoreTask } from '../context.ts';
import { parseLockLine, type FileLock } from '../proc/index.ts';
import type { FdFacts } from './fd-kind.ts';
import type { FrozenProcess } from '../tree.ts';

type Entry = Record<string, any>;

/** CRIU's file_lock_entry.flag values. */
const FL = { POSIX: 1, FLOCK: 2, OFD: 4, LEASE: 8 } as const;
const KIND_FLAG: Readonly<Record<string, number>> = { POSIX: FL.POSIX, FLOCK: FL.FLOCK, OFDLCK: FL.OFD };
const F_RDLCK = 0;
const F_WRLCK = 1;
const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
// Scratch offset for the struct flock of an injected fcntl.
const FLOCK_OFF = 20480;

/** The file_lock_entry of a lock the task holds through fd `fd`. */
export function lockEntry(pid: number, fd: number, l: FileLock): Entry {
  const flag = KIND_FLAG[l.kind];
  if (flag === undefined || l.mandatory) {
    throw new UnsupportedError(`${pid}: fd ${fd} holds a ${l.mandatory ? 'mandatory ' : ''}${l.kind} lock`, { hint: 'only advisory flock, POSIX and OFD locks can be dumped' });
  }
  if (l.type !== 'READ' && l.type !== 'WRITE') throw new UnsupportedError(`${pid}: fd ${fd} holds a ${l.kind} lock of type ${l.type}`);
  const len = l.end === null ? 0n : l.end - l.start + 1n;
  return { flag, type: l.type === 'WRITE' ? F_WRLCK : F_RDLCK, pid, fd, start: l.start, len };
}

/**
 * Collects the locks `proc` holds into ctx.locks (from the fd table dumpFds read); refuses them
 * without --file-locks.
 */
export function dumpFileLocks(ctx: DumpContext, proc: FrozenProcess, table: readonly FdFacts[]): void {
  const pid = proc.pid;
  const seen = new Set<string>();
  for (const { fd, info } of table) {
    for (const line of info.locks) {
      const l = parseLockLine(line);
      if (l.blocked) continue;
      if (!ctx.fileLocks) {
        throw new UnsupportedError(`${pid}: some file locks are held by the task (fd ${fd}: ${l.kind} ${l.type} ${l.start}-${l.end ?? 'EOF'})`, {
          hint: 'you can try --file-locks to dump them',
        });
      }
      // dup()ed fds share the description and so show the same lock: take it once.
      const key = `${l.kind}:${l.ino}:${l.type}:${l.start}:${l.end}`;
      if (seen.has(key)) continue;
      seen.add(key);
      ctx.locks.push(lockEntry(pid, fd, l));
    }
  }
}

export function writeFileLocks(ctx: DumpContext): void {
  if (ctx.locks.length) ctx.images.write('FILE_LOCKS', ctx.locks);
}

/**
 * Takes the dumped locks held through fd table `filesId` again, from `task` (the process that
 * restored that table; processes sharing it with CLONE_FILES hold the same fds): its fds must be
 * at their numbers.
 */
export function restoreFileLocks(ctx: RestoreContext, task: RestoreTask, filesId: number): void {
  const t = task.remote.leader;
  ctx.fileLocks ??= (ctx.images.readOptional('FILE_LOCKS') ?? []) as Entry[];
  for (const e of ctx.fileLocks) {
    if (ctx.fdTableOf.get(Number(e.pid)) !== filesId) continue;
    const fd = Number(e.fd);
    const type = Number(e.type);
    const what = `${task.pid}: ${Object.keys(FL).find((k) => FL[k as keyof typeof FL] === Number(e.flag)) ?? e.flag} lock on fd ${fd}`;
    try {
      if (Number(e.flag) === FL.FLOCK) {
        t.call('flock', NR.flock, fd, (type === F_WRLCK ? LOCK_EX : LOCK_SH) | LOCK_NB);
      } else if (Number(e.flag) === FL.POSIX || Number(e.flag) === FL.OFD) {
        // struct flock: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid.
        const fl = Buffer.alloc(32);
        fl.writeInt16LE(type, 0);
        fl.writeInt16LE(0 /* SEEK_SET */, 2);
        fl.writeBigInt64LE(BigInt(e.start), 8);
        fl.writeBigInt64LE(BigInt(e.len), 16);
        t.call('fcntl', NR.fcntl, fd, Number(e.flag) === FL.OFD ? F.OFD_SETLK : F.SETLK, task.remote.put(FLOCK_OFF, fl));
      } else {
        throw new RuntimeError(`${what}: unknown lock kind ${e.flag}`);
      }
    } catch (err) {
      if (!(err instanceof SyscallError)) throw err;
      throw new RuntimeError(`${what} can't be taken again: ${(err as Error).message}`, {
        cause: err,
        hint: 'another process holds a conflicting lock on the file now',
      });
    }
    ctx.log.debug(`${what} taken again`);
  }
}
