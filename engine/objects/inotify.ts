// inotify: an inotify instance and its watches (files.img INOTIFY entries, the watches inline as
// inotify_wd_entry), read from fdinfo `inotify wd:` lines. The kernel prints each watched inode's
// file handle; cryo resolves it to a path at dump (open_by_handle_at on the inode's filesystem),
// stores it in fh_entry.path, and restore adds the watch on that path with the same watch
// descriptor: INOTIFY_IOC_SETNEXTWD (CONFIG_CHECKPOINT_RESTORE) picks the next wd; without it,
// watches are added and removed until the kernel's cyclic counter reaches the wd, as CRIU does.
// Events queued but not yet read at the dump are lost (so they are with CRIU).
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { F, NR, O, SyscallError, closeFd, openByHandleAt } from '../../native/index.ts';
import { RuntimeError, UnsupportedError } from '../../errors.ts';
import type { RestoreTask } from '../context.ts';
import type { InotifyWatch } from '../proc/index.ts';
import { readMountinfo } from '../proc/index.ts';
import { FOWN, O_NONBLOCK, PATH_OFF, type FdFacts, type FdKind } from './fd-kind.ts';

/** _IOW('I', 0, __s32): the wd the next inotify_add_watch gets. */
const INOTIFY_IOC_SETNEXTWD = 0x40044900;
/** fh_entry holds the handle in at least this many u64 words (CRIU's fh_entry_sizes.min_entries). */
const FH_WORDS = 16;
/** Tries of the add-and-remove fallback before giving up on a wd. */
const WD_TRIES = 1 << 16;

/** The handle bytes of a watch as fh_entry.handle words (little-endian, zero-padded). */
export function handleWords(hex: string): bigint[] {
  const bytes = Buffer.alloc(Math.max(FH_WORDS * 8, Math.ceil(hex.length / 16) * 8));
  Buffer.from(hex, 'hex').copy(bytes);
  return Array.from({ length: bytes.length / 8 }, (_, i) => bytes.readBigUInt64LE(i * 8));
}

/** The path of a watched inode now, from its handle: open_by_handle_at on a mount of its filesystem. */
function watchedPath(f: FdFacts, w: InotifyWatch): string {
  const what = `${f.pid}: inotify fd ${f.fd} watch ${w.wd} (inode ${w.ino})`;
  if (!w.fhandle) throw new UnsupportedError(`${what}: the kernel printed no file handle`, { hint: 'the filesystem does not export file handles' });
  const major = w.sdev >>> 20;
  const minor = w.sdev & 0xfffff;
  const mount = readMountinfo(f.pid).find((m) => m.devMajor === major && m.devMinor === minor);
  if (!mount) throw new UnsupportedError(`${what}: no mount of device ${major}:${minor} is visible`);
  const mfd = openSync(mount.mountPoint, 'r');
  try {
    const fd = openByHandleAt(mfd, w.fhandle.type, Buffer.from(w.fhandle.handle, 'hex'), O.PATH);
    try {
      const path = readlinkSync(`/proc/self/fd/${fd}`);
      if (path.endsWith(' (deleted)') || !path.startsWith('/')) throw new UnsupportedError(`${what}: the watched file is deleted (${path})`);
      return path;
    } finally {
      closeFd(fd);
    }
  } catch (e) {
    if (e instanceof SyscallError) throw new UnsupportedError(`${what}: can't open it by its handle: ${e.message}`, { cause: e, hint: 'needs CAP_DAC_READ_SEARCH' });
    throw e;
  } finally {
    closeSync(mfd);
  }
}

export const inotifyKind: FdKind = {
  name: 'inotify',
  type: 8,
  matches: (f) => f.link === 'anon_inode:inotify',
  dump(ctx, f) {
    const id = ctx.fileIds.next();
    const wd = f.info.inotify.map((w) => ({
      id,
      i_ino: BigInt(w.ino),
      mask: w.mask,
      ignored_mask: w.ignoredMask,
      s_dev: w.sdev,
      wd: w.wd,
      f_handle: { bytes: w.fhandle?.bytes ?? 0, type: w.fhandle?.type ?? 0, handle: handleWords(w.fhandle?.handle ?? ''), path: watchedPath(f, w) },
    }));
    return { type: this.type, id, ify: { id, flags: f.info.flags & ~O.CLOEXEC, fown: FOWN, wd } };
  },
  restore(_ctx, task, file) {
    const t = task.remote.leader;
    const ify = file.ify as Record<string, any>;
    const fd = Number(t.call('inotify_init1', NR.inotify_init1, 0));
    // Lowest wd first: the fallback can only count upwards.
    const watches = [...((ify.wd ?? []) as Record<string, any>[])].sort((a, b) => a.wd - b.wd);
    for (const w of watches) addWatch(task, fd, w);
    if (Number(ify.flags) & O_NONBLOCK) t.call('fcntl', NR.fcntl, fd, F.SETFL, O_NONBLOCK);
    return fd;
  },
};

function addWatch(task: RestoreTask, fd: number, w: Record<string, any>): void {
  const t = task.remote.leader;
  const path = (w.f_handle as Record<string, any>).path as string | undefined;
  const want = Number(w.wd);
  if (!path) throw new RuntimeError(`inotify watch ${want}: no path in the image (cryo needs fh_entry.path)`);
  const p = task.remote.putString(PATH_OFF, path);
  const add = (): number => Number(t.call('inotify_add_watch', NR.inotify_add_watch, fd, p, Number(w.mask) >>> 0));
  const setNext = t.raw(NR.ioctl, fd, INOTIFY_IOC_SETNEXTWD, want);
  let got = add();
  if (setNext < 0n) {
    // No INOTIFY_IOC_SETNEXTWD: the kernel hands out wds cyclically, so add and remove until it matches.
    for (let i = 0; got !== want && i < WD_TRIES; i++) {
      t.call('inotify_rm_watch', NR.inotify_rm_watch, fd, got);
      got = add();
    }
  }
  if (got !== want) throw new RuntimeError(`inotify watch on ${path}: got wd ${got}, wanted ${want}`);
}
