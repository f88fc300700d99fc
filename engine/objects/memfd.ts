// memfd: files.img MEMFD entries (one per open file description: flags, offset, inode id) and
// memfd.img (one memfd_inode_entry per inode: name, size, seals, owner). The content is stored as
// all shared memory is (shmem.ts): pagemap-shmem-<shmid>.img, shmid = the inode number.
// Restore creates each inode once (memfd_create with its name, injected into the first task that
// needs it, so it is charged to that task), fills it from cryo's own copy of the fd, and opens every
// description by reopening that copy (/proc/<cryo>/fd/N) with the dumped flags, as CRIU reopens
// its fdstore copy. Seals go on last (afterAll): F_SEAL_WRITE / F_SEAL_FUTURE_WRITE would forbid
// the writable shared mappings made before. The inodes stay in RestoreContext.memfds by inode id,
// so a memfd mapping (or another task's fd) gets the same inode through memfdInodeFd() (memfdOfShmid()).
import { fchownSync, fstatSync } from 'node:fs';
import { F, NR, O, closeFd, fcntl, copyFdOf } from '../../native/index.ts';
import { InternalError, RuntimeError } from '../../errors.ts';
import type { DumpContext, RestoreContext, RestoreTask } from '../context.ts';
import { FOWN, openInTask, PATH_OFF, withOwnCopy, type FdFacts, type FdKind } from './fd-kind.ts';
import { dumpShmemContent, fillShmem } from './shmem.ts';

type Entry = Record<string, any>;

const MFD_ALLOW_SEALING = 2;
const F_SEAL_SEAL = 1;

/** One memfd inode while restoring: its image entry and, once created, cryo's fd on it. */
export interface MemfdInode {
  readonly entry: Entry;
  /** cryo's own fd on the inode (O_RDWR), once created. */
  fd?: number;
  /** Seals still to add (after every mapping and fd of the tasks exists). */
  pendingSeals: number;
  /** cryo's fd was closed at the end of the restore: the inode lives on in the tasks only. */
  released?: boolean;
}

/** `/memfd:name (deleted)` → `name` */
function memfdName(link: string): string {
  const name = link.slice('/memfd:'.length);
  return name.endsWith(' (deleted)') ? name.slice(0, -' (deleted)'.length) : name;
}

function dumpInode(ctx: DumpContext, f: FdFacts, st: { ino: number; uid: number; gid: number; size: number }): Entry {
  const inodeId = ctx.memfdInodes.size + 1;
  const shmid = st.ino >>> 0;
  const seals = withOwnCopy(f.pid, f.fd, (own) => fcntl(own, F.GET_SEALS));
  const written = dumpShmemContent(ctx, shmid, `/proc/${f.pid}/fd/${f.fd}`, st.size);
  ctx.log.debug(`${f.pid}: memfd:${memfdName(f.link)} inode ${inodeId} (shmid 0x${shmid.toString(16)}), ${st.size} bytes, ${written} pages`);
  return { name: memfdName(f.link), uid: st.uid, gid: st.gid, size: BigInt(st.size), shmid, seals, inode_id: BigInt(inodeId) };
}

/** memfd.img, once every task is dumped. */
export function writeMemfdInodes(ctx: DumpContext): void {
  if (ctx.memfdInodes.size) ctx.images.write('MEMFD_INODE', [...ctx.memfdInodes.values()]);
}

function inodes(ctx: RestoreContext): Map<number, MemfdInode> {
  if (!ctx.memfds) {
    ctx.memfds = new Map();
    for (const e of (ctx.images.readOptional('MEMFD_INODE') ?? []) as Entry[]) {
      ctx.memfds.set(Number(e.inode_id), { entry: e, pendingSeals: 0 });
    }
  }
  return ctx.memfds;
}

/** The memfd.img inode id of the memfd dumped as shared memory object `shmid`, if an fd of the tree had it open. */
export function memfdOfShmid(ctx: RestoreContext, shmid: number): number | undefined {
  for (const [id, inode] of inodes(ctx)) if (Number(inode.entry.shmid) === shmid) return id;
  return undefined;
}

/**
 * cryo's fd on memfd inode `inodeId`, created on first use: memfd_create injected into `task`,
 * a copy taken into cryo (pidfd_getfd), the task's own fd closed again, content and owner set.
 */
export function memfdInodeFd(ctx: RestoreContext, task: RestoreTask, inodeId: number): number {
  const inode = inodes(ctx).get(inodeId);
  if (!inode) throw new RuntimeError(`memfd.img: no memfd inode ${inodeId}`);
  if (inode.fd !== undefined) return inode.fd;
  if (inode.released) throw new InternalError(`memfd inode ${inodeId} wanted after the restore released it`);
  const e = inode.entry;
  const t = task.remote.leader;
  // A memfd created without MFD_ALLOW_SEALING reads back exactly F_SEAL_SEAL.
  const sealable = Number(e.seals) !== F_SEAL_SEAL;
  const taskFd = Number(t.call('memfd_create', NR.memfd_create, task.remote.putString(PATH_OFF, String(e.name)), sealable ? MFD_ALLOW_SEALING : 0));
  try {
    inode.fd = copyFdOf(task.pid, taskFd);
  } finally {
    t.call('close', NR.close, taskFd);
  }
  fillShmem(ctx, inode.fd, Number(e.shmid), Number(e.size), false);
  const st = fstatSync(inode.fd);
  if (st.uid !== Number(e.uid) || st.gid !== Number(e.gid)) fchownSync(inode.fd, Number(e.uid), Number(e.gid));
  inode.pendingSeals = sealable ? Number(e.seals) : 0;
  ctx.log.debug(`${task.pid}: memfd:${e.name} inode ${inodeId} created, ${e.size} bytes`);
  return inode.fd;
}

export const memfdKind: FdKind = {
  name: 'memfd',
  type: 18,
  matches: (f) => f.link.startsWith('/memfd:'),
  dump(ctx, f) {
    const st = f.stat();
    const key = `${st.dev}:${st.ino}`;
    let inode = ctx.memfdInodes.get(key);
    if (!inode) {
      inode = dumpInode(ctx, f, st);
      ctx.memfdInodes.set(key, inode);
    }
    const id = ctx.fileIds.next();
    return { type: this.type, id, memfd: { id, flags: f.info.flags & ~O.CLOEXEC, pos: f.info.pos, fown: FOWN, inode_id: Number(inode.inode_id) } };
  },
  restore(ctx, task, file) {
    const m = file.memfd as Entry;
    const own = memfdInodeFd(ctx, task, Number(m.inode_id));
    // A new description of the inode with the dumped flags (access mode, O_APPEND …).
    const fd = openInTask(task, `/proc/${process.pid}/fd/${own}`, Number(m.flags) & ~(O.CREAT | O.TRUNC | O.EXCL));
    if (BigInt(m.pos ?? 0) !== 0n) task.remote.leader.call('lseek', NR.lseek, fd, BigInt(m.pos), 0);
    return fd;
  },
  afterAll(ctx, _task, file) {
    const inode = inodes(ctx).get(Number((file.memfd as Entry).inode_id));
    if (!inode || inode.fd === undefined || !inode.pendingSeals) return;
    fcntl(inode.fd, F.ADD_SEALS, inode.pendingSeals);
    inode.pendingSeals = 0;
  },
};

/** Closes cryo's fds on the memfd inodes, once no task of the restore needs to open or map them any more. */
export function releaseMemfds(ctx: RestoreContext): void {
  for (const inode of ctx.memfds?.values() ?? []) {
    if (inode.fd === undefined) continue;
    closeFd(inode.fd);
    inode.fd = undefined;
    inode.released = true;
  }
}
