// System V shared memory, from cryo's own process (which shares the dumped task's IPC namespace):
// shmget/shmat/shmdt/shmctl and the x86_64 struct shmid64_ds.
import { SyscallError, check } from './check.ts';
import { NR } from './constants.ts';
import { lastErrno, sys, syscallArgs } from './libc.ts';

export const IPC = { CREAT: 0o1000, EXCL: 0o2000, PRIVATE: 0, RMID: 0, SET: 1, STAT: 2 } as const;
export const SHM = { RDONLY: 0o10000, RND: 0o20000, REMAP: 0o40000, EXEC: 0o100000, DEST: 0o1000, LOCKED: 0o2000 } as const;
/** sizeof(struct shmid64_ds) on x86_64. */
export const SHMID_DS_SIZE = 112;

export interface ShmidDs {
  readonly key: number;
  readonly uid: number;
  readonly gid: number;
  readonly cuid: number;
  readonly cgid: number;
  /** Permission bits plus SHM_DEST (marked for removal) and SHM_LOCKED. */
  readonly mode: number;
  readonly size: bigint;
  readonly nattch: bigint;
}

/** struct shmid64_ds: ipc64_perm (key uid gid cuid cgid mode seq …, 48 bytes), then segsz at 48, nattch at 88. */
export function parseShmidDs(b: Buffer): ShmidDs {
  return {
    key: b.readInt32LE(0),
    uid: b.readUInt32LE(4),
    gid: b.readUInt32LE(8),
    cuid: b.readUInt32LE(12),
    cgid: b.readUInt32LE(16),
    mode: b.readUInt32LE(20),
    size: b.readBigUInt64LE(48),
    nattch: b.readBigUInt64LE(88),
  };
}

/** IPC_STAT of segment `id`, or undefined when there is no such segment (EINVAL, EIDRM). */
export function shmStat(id: number): ShmidDs | undefined {
  const b = Buffer.alloc(SHMID_DS_SIZE);
  if (syscallArgs(NR.shmctl, id, IPC.STAT, b) === -1) {
    const errno = lastErrno();
    if (errno === 22 || errno === 43) return undefined;
    throw new SyscallError('shmctl', errno, `IPC_STAT ${id}`);
  }
  return parseShmidDs(b);
}

/** IPC_SET: owner and permission bits (the only fields the kernel takes). */
export function shmSetOwner(id: number, uid: number, gid: number, mode: number): void {
  const b = Buffer.alloc(SHMID_DS_SIZE);
  b.writeUInt32LE(uid, 4);
  b.writeUInt32LE(gid, 8);
  b.writeUInt32LE(mode & 0o777, 20);
  check(syscallArgs(NR.shmctl, id, IPC.SET, b), 'shmctl', `IPC_SET ${id}`);
}

export function shmRemove(id: number): void {
  check(sys.syscall(NR.shmctl, id, IPC.RMID, 0, 0, 0, 0), 'shmctl', `IPC_RMID ${id}`);
}

export function shmGet(key: number, size: bigint, flags: number): number {
  return check(sys.syscall(NR.shmget, key, size, flags, 0, 0, 0), 'shmget', `key 0x${(key >>> 0).toString(16)}, ${size} bytes`);
}

/** Attaches segment `id` in cryo's own address space; returns where. */
export function shmAttach(id: number, flags: number): bigint {
  return BigInt(check(sys.syscall(NR.shmat, id, 0, flags, 0, 0, 0), 'shmat', String(id)));
}

export function shmDetach(addr: bigint): void {
  check(sys.syscall(NR.shmdt, addr, 0, 0, 0, 0, 0), 'shmdt', `0x${addr.toString(16)}`);
}
