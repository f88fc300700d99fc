// Terminals: files.img TTY entries (tty_file_entry) and tty-info.img (one tty_info_entry per
// terminal: a pty's master and its slave are two terminals, ids (index << 1) | master).
//
// Two cases, as in CRIU:
// - a pty pair the dumped tree created (its master, /dev/ptmx, is one of the tree's fds): the
//   restore builds a new pty in cryo's own process, sets termios, locked termios, window size,
//   packet mode, exclusive and locked state, opens the slaves, and hands the fds to the task
//   (installFd). A session leader whose controlling terminal it was gets it back (TIOCSCTTY,
//   injected, and its foreground group).
// - a terminal the tree did not create (a slave whose master is outside, a VT, a serial line):
//   the task is a shell job. Dump and restore need --shell-job; the restored task gets cryo's
//   own terminal (its stdin, else stdout or stderr, as CRIU uses its stdin) with the dumped
//   termios and window size, and is in cryo's session and process group.
// An fd on /dev/tty (the controlling terminal, whichever it is) becomes the slave of the tree's
// pty that was the session's controlling terminal, or cryo's own /dev/tty for a shell job.
//
// The pty index: cryo asks for the dumped index (the kernel hands out the lowest free one, so
// opening /dev/ptmx until the index is reached gets it whenever it is free, as CRIU does) and
// takes a new one when it is taken, rather than failing: a task that remembered its ptsname
// only notices if it opens the slave again by name.
//
// Queued bytes (written to one side, not yet read on the other) can't be read without consuming
// them, so a dump that finds any in a pair of the tree refuses with a hint instead of losing
// them or altering the task; tty-data.img is never written.
import { closeSync, chownSync, openSync } from 'node:fs';
import { ImageError, UnsupportedError } from '../../errors.ts';
import {
  F,
  NR,
  O,
  TIOC,
  SyscallError,
  devMajor,
  devMinor,
  fcntl,
  getLockedTermios,
  getTermios,
  getWinsize,
  ioctlArg,
  ioctlGetInt,
  ioctlSetInt,
  setLockedTermios,
  setTermios,
  setWinsize,
  type Termios,
  type Winsize,
} from '../../native/index.ts';
import type { DumpContext, RestoreContext, RestoreTask } from '../context.ts';
import { readStat } from '../proc/index.ts';
import { FOWN, withOwnCopy, type Entry, type FdFacts, type FdKind } from './fd-kind.ts';
import { tty } from '../lazy-builtins.ts';

export const TTY_TYPE = { PTY: 1, CONSOLE: 2, VT: 3, CTTY: 4, EXT_TTY: 5, SERIAL: 6 } as const;

type Driver = 'ptmx' | 'pts' | 'ctty' | 'console' | 'vt' | 'serial';

/** CRIU's driver indexes for terminals that are not ptys (info id = index << 1). */
const DRIVER_INDEX: Record<Exclude<Driver, 'ptmx' | 'pts'>, number> = { console: 1002, vt: 1004, ctty: 1006, serial: 1008 };

function driverOf(rdev: number): Driver | undefined {
  const major = devMajor(rdev);
  const minor = devMinor(rdev);
  if (major === 5 && minor === 2) return 'ptmx';
  if (major === 5 && minor === 0) return 'ctty';
  if (major >= 136 && major < 144) return 'pts';
  if (major === 5 && minor === 1) return 'console';
  if (major === 4 && minor >= 1 && minor <= 63) return 'vt';
  if (major === 4 || major === 188 /* USB serial */ || major === 204 /* low-density serial */) return 'serial';
  return undefined;
}

/** What a dump collects across every process of the tree; written once at the end. */
export interface TtyDumpState {
  /** tty-info.img entries by id. */
  readonly infos: Map<number, Entry>;
  /** Who uses each terminal first (`PID: fd N (/dev/pts/3)`), for messages. */
  readonly users: Map<number, string>;
  /** Bytes queued on each terminal (readable on it) when it was dumped. */
  readonly queued: Map<number, number>;
}

function dumpState(ctx: DumpContext): TtyDumpState {
  ctx.ttys ??= { infos: new Map(), users: new Map(), queued: new Map() };
  return ctx.ttys;
}

const isMasterInfo = (info: Entry): boolean => info.type === TTY_TYPE.PTY && (Number(info.id) & 1) === 1;
const ptyIndex = (info: Entry): number => Number(info.pty?.index ?? 0);

/** An ioctl whose failure with one of `codes` means "not set" (ENOTTY: no session; EIO: hung up). */
function orUnset<T>(fn: () => T, codes: readonly string[] = ['ENOTTY', 'EIO', 'EINVAL']): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SyscallError && codes.includes(e.code)) return undefined;
    throw e;
  }
}

const termiosEntry = (t: Termios): Entry => ({
  c_iflag: t.iflag, c_oflag: t.oflag, c_cflag: t.cflag, c_lflag: t.lflag, c_line: t.line,
  c_ispeed: t.ispeed, c_ospeed: t.ospeed, c_cc: [...t.cc],
});
const termiosOf = (e: Entry): Termios => ({
  iflag: Number(e.c_iflag), oflag: Number(e.c_oflag), cflag: Number(e.c_cflag), lflag: Number(e.c_lflag),
  line: Number(e.c_line), ispeed: Number(e.c_ispeed ?? 0), ospeed: Number(e.c_ospeed ?? 0), cc: (e.c_cc as number[]).map(Number),
});
const winsizeEntry = (w: Winsize): Entry => ({ ws_row: w.row, ws_col: w.col, ws_xpixel: w.xpixel, ws_ypixel: w.ypixel });
const winsizeOf = (e: Entry): Winsize => ({ row: Number(e.ws_row), col: Number(e.ws_col), xpixel: Number(e.ws_xpixel), ypixel: Number(e.ws_ypixel) });

/** The session and foreground group of a slave (or /dev/tty) that is `pid`'s controlling terminal. */
function noteSession(info: Entry, pid: number, driver: Driver, rdev: number): void {
  const stat = readStat(pid);
  // /dev/tty is the task's controlling terminal, whichever it is.
  if (stat.ttyNr === rdev || (driver === 'ctty' && stat.ttyNr !== 0)) {
    info.sid = stat.session;
    info.pgrp = Math.max(0, stat.tpgid);
  }
}

/** tty_info_entry of one terminal, read through cryo's copy `own` of a task's fd. */
function collectInfo(own: number, f: FdFacts, id: number, driver: Driver, index: number, st: { rdev: number; dev: number; uid: number; gid: number }): Entry {
  const type = driver === 'ptmx' || driver === 'pts' ? TTY_TYPE.PTY : driver === 'ctty' ? TTY_TYPE.CTTY : driver === 'console' ? TTY_TYPE.CONSOLE : driver === 'vt' ? TTY_TYPE.VT : TTY_TYPE.SERIAL;
  const info: Entry = {
    id, type, locked: false, exclusive: orUnset(() => ioctlGetInt(own, TIOC.TIOCGEXCL, 'TIOCGEXCL') !== 0) ?? false,
    packet_mode: false, sid: 0, pgrp: 0, rdev: st.rdev >>> 0, dev: st.dev >>> 0,
  };
  if (type === TTY_TYPE.PTY) info.pty = { index };
  if (driver === 'ptmx') {
    info.locked = ioctlGetInt(own, TIOC.TIOCGPTLCK, 'TIOCGPTLCK') !== 0;
    info.packet_mode = ioctlGetInt(own, TIOC.TIOCGPKT, 'TIOCGPKT') !== 0;
    // Through the master, the slave's session and foreground group can be asked by anyone.
    info.sid = orUnset(() => ioctlGetInt(own, TIOC.TIOCGSID, 'TIOCGSID')) ?? 0;
    info.pgrp = info.sid ? (orUnset(() => ioctlGetInt(own, TIOC.TIOCGPGRP, 'TIOCGPGRP')) ?? 0) : 0;
  } else {
    // Through a slave only its own session may ask; /proc tells whether it is the task's.
    info.uid = st.uid;
    info.gid = st.gid;
    noteSession(info, f.pid, driver, st.rdev);
  }
  // A hung-up terminal answers EIO: it is written without termios, as CRIU does.
  const termios = orUnset(() => getTermios(own), ['EIO']);
  if (termios) {
    info.termios = termiosEntry(termios);
    info.termios_locked = termiosEntry(getLockedTermios(own));
    info.winsize = winsizeEntry(getWinsize(own));
  }
  return info;
}

export const ttyKind: FdKind = {
  name: 'terminal',
  type: 11,
  matches: (f) => /^\/dev\/(pts\/|ptmx$|tty|console$)/.test(f.link) && isTtyDevice(f),
  dump(ctx, f) {
    const st = f.stat();
    const driver = driverOf(st.rdev)!;
    const s = dumpState(ctx);
    const id = ctx.fileIds.next();
    const infoId = withOwnCopy(f.pid, f.fd, (own) => {
      const index = driver === 'ptmx' ? ioctlGetInt(own, TIOC.TIOCGPTN, 'TIOCGPTN') : driver === 'pts' ? devMinor(st.rdev) : DRIVER_INDEX[driver];
      const infoId = (index << 1) | (driver === 'ptmx' ? 1 : 0);
      if (!s.infos.has(infoId)) {
        s.infos.set(infoId, collectInfo(own, f, infoId, driver, index, { rdev: st.rdev, dev: st.dev, uid: st.uid, gid: st.gid }));
        s.users.set(infoId, `${f.pid}: fd ${f.fd} (${driver === 'ptmx' ? `the master of /dev/pts/${index}` : f.link})`);
        const queued = orUnset(() => ioctlGetInt(own, TIOC.FIONREAD, 'FIONREAD')) ?? 0;
        if (queued > 0) s.queued.set(infoId, queued);
      } else if (driver !== 'ptmx' && s.infos.get(infoId)!.sid === 0) {
        // Seen first in a process of another session: this one may be the session it controls.
        noteSession(s.infos.get(infoId)!, f.pid, driver, st.rdev);
      }
      return infoId;
    });
    ctx.log.debug(`${f.pid}: fd ${f.fd} is tty ${f.link} (info ${infoId.toString(16)})`);
    return { type: this.type, id, tty: { id, tty_info_id: infoId, flags: f.info.flags & ~O.CLOEXEC, fown: FOWN } };
  },
  open(ctx, file) {
    const s = restoreState(ctx);
    const tfe = file.tty as Entry | undefined;
    const info = tfe && s.infos.get(Number(tfe.tty_info_id));
    if (!tfe || !info) throw new ImageError(`files.img: tty ${file.id} has no tty-info.img entry ${tfe?.tty_info_id}`);
    const flags = (Number(tfe.flags) & ~(O.CLOEXEC | O.CREAT | O.TRUNC | O.EXCL)) | O.NOCTTY;
    if (info.type === TTY_TYPE.PTY && s.masters.has(ptyIndex(info))) {
      const pair = ensurePair(ctx, s, ptyIndex(info));
      if (isMasterInfo(info)) {
        return withMaster(pair, (m) => {
          fcntl(m, F.SETFL, flags);
          return fcntl(m, F.DUPFD_CLOEXEC, 0);
        });
      }
      return openSlave(pair, info, flags);
    }
    if (info.type === TTY_TYPE.CTTY) {
      // /dev/tty of a pty of the tree: its slave (the controlling terminal is set only once
      // every fd is in place, so /dev/tty can't be opened in the task yet).
      const index = cttyPair(s.infos, s.masters, info);
      if (index !== undefined) return openSlave(ensurePair(ctx, s, index), info, flags);
      // Else the task's session is cryo's (a shell job): cryo's own /dev/tty.
      if (ctx.shellJob) {
        try {
          return openSync('/dev/tty', flags);
        } catch (e) {
          throw new UnsupportedError('the task had /dev/tty open (its shell\'s terminal), and cryo restore has no controlling terminal to give it', {
            hint: 'run `cryo restore -j` from a terminal', cause: e,
          });
        }
      }
    }
    return openExternal(ctx, s, info, Number(file.id));
  },
  afterAll(ctx, task, file, fd) {
    const s = restoreState(ctx);
    const info = s.infos.get(Number(file.tty.tty_info_id))!;
    if (info.type !== TTY_TYPE.PTY || !s.masters.has(ptyIndex(info))) return;
    const pair = s.pairs.get(ptyIndex(info))!;
    if (isMasterInfo(info) && pair.master !== undefined) {
      // The task holds the master now: cryo's copy goes, or the pty would outlive the task's
      // close. Later slave opens reach the master through the task.
      pair.holder = { pid: task.pid, fd };
      closeSync(pair.master);
      pair.master = undefined;
    }
    if (Number(info.sid) === task.pid && !s.ctty.has(task.pid)) setControllingTty(ctx, task, fd, Number(info.pgrp));
  },
};

function isTtyDevice(f: FdFacts): boolean {
  try {
    const st = f.stat();
    return st.isCharacterDevice() && driverOf(st.rdev) !== undefined;
  } catch {
    return false;
  }
}

/**
 * tty-info.img, after every process's fds: terminals the tree did not create need
 * --shell-job, and a pair of the tree must have nothing queued.
 */
export function writeTtyImages(ctx: DumpContext): void {
  const s = ctx.ttys;
  if (!s) return;
  const masters = new Set([...s.infos.values()].filter(isMasterInfo).map(ptyIndex));
  for (const [id, info] of s.infos) {
    const inTree = info.type === TTY_TYPE.CTTY ? cttyPair(s.infos, masters, info) !== undefined : info.type === TTY_TYPE.PTY && masters.has(ptyIndex(info));
    if (!inTree && !ctx.shellJob) {
      throw new UnsupportedError(`${s.users.get(id)}: a terminal the dumped tree did not create (its controlling shell's, or a device)`, {
        hint: 'a shell job: dump with --shell-job (-j), and restore with -j from a terminal (the task then gets cryo\'s terminal)',
      });
    }
    const queued = s.queued.get(id);
    if (inTree && queued) {
      throw new UnsupportedError(`${s.users.get(id)}: ${queued} byte(s) are queued in the pty, not yet read`, {
        hint: 'cryo does not save data queued in a terminal (reading it would take it from the task): dump again once the task has read it',
      });
    }
  }
  ctx.images.write('TTY_INFO', [...s.infos.values()]);
}

/** The pty of the tree that a /dev/tty fd stands for: the one that is the same session's controlling terminal. */
function cttyPair(infos: Map<number, Entry>, masters: Set<number>, ctty: Entry): number | undefined {
  if (!ctty.sid) return undefined;
  for (const info of infos.values()) {
    if (info.type === TTY_TYPE.PTY && info.sid === ctty.sid && masters.has(ptyIndex(info))) return ptyIndex(info);
  }
  return undefined;
}

/** ---- restore ---- */

/** A pty built for the restore, by dumped index. */
interface Pair {
  /** cryo's own master fd, until the task that owns the master has it. */
  master: number | undefined;
  /** Afterwards: where the master is (for opening more slaves of a locked pty). */
  holder?: { pid: number; fd: number };
  /** The new pty's index. */
  readonly index: number;
  readonly locked: boolean;
}

export interface TtyRestoreState {
  readonly infos: Map<number, Entry>;
  /** Dumped pty indexes whose master is in files.img: pairs of the tree. */
  readonly masters: Set<number>;
  readonly pairs: Map<number, Pair>;
  /** Outside terminals whose termios were applied to cryo's terminal already. */
  readonly external: Set<number>;
  /** Tasks whose controlling terminal is set. */
  readonly ctty: Set<number>;
}

function restoreState(ctx: RestoreContext): TtyRestoreState {
  if (ctx.ttys) return ctx.ttys;
  const infos = new Map<number, Entry>();
  for (const e of (ctx.images.readOptional('TTY_INFO') ?? []) as Entry[]) infos.set(Number(e.id), e);
  const masters = new Set<number>();
  for (const f of ctx.files.values()) {
    const info = f.tty && infos.get(Number(f.tty.tty_info_id));
    if (info && isMasterInfo(info)) masters.add(ptyIndex(info));
  }
  ctx.ttys = { infos, masters, pairs: new Map(), external: new Set(), ctty: new Set() };
  return ctx.ttys;
}

function withMaster<T>(pair: Pair, fn: (master: number) => T): T {
  if (pair.master !== undefined) return fn(pair.master);
  return withOwnCopy(pair.holder!.pid, pair.holder!.fd, fn);
}

/** At most this many ptys are opened on the way to the dumped index (CRIU: 32). */
const PTMX_TRIES = 64;

/** Opens /dev/ptmx until it gets index `want` (the lowest free index is handed out) or a higher one. */
function openPtmx(want: number): number {
  const opened: number[] = [];
  let keep: number | undefined;
  try {
    while (opened.length < PTMX_TRIES) {
      const fd = openSync('/dev/ptmx', O.RDWR | O.NOCTTY);
      opened.push(fd);
      const got = ioctlGetInt(fd, TIOC.TIOCGPTN, 'TIOCGPTN');
      if (got >= want) {
        keep = got === want ? fd : opened[0]!;
        break;
      }
    }
    keep ??= opened[0]!;
    return keep;
  } finally {
    for (const fd of opened) if (fd !== keep) closeSync(fd);
  }
}

function applyParams(fd: number, info: Entry): void {
  if (info.termios_locked) setLockedTermios(fd, termiosOf(info.termios_locked));
  if (info.termios) setTermios(fd, termiosOf(info.termios));
  if (info.winsize) setWinsize(fd, winsizeOf(info.winsize));
}

function ensurePair(ctx: RestoreContext, s: TtyRestoreState, dumped: number): Pair {
  const have = s.pairs.get(dumped);
  if (have) return have;
  const masterInfo = s.infos.get((dumped << 1) | 1)!;
  const slaveInfo = s.infos.get(dumped << 1);
  const master = openPtmx(dumped);
  try {
    const index = ioctlGetInt(master, TIOC.TIOCGPTN, 'TIOCGPTN');
    if (index !== dumped) ctx.log.info(`pty ${dumped} is taken: restored as /dev/pts/${index}`);
    ioctlSetInt(master, TIOC.TIOCSPTLCK, 0, 'TIOCSPTLCK');
    // Both sides show the slave's termios and window size.
    applyParams(master, slaveInfo?.termios ? slaveInfo : masterInfo);
    if (masterInfo.packet_mode) ioctlSetInt(master, TIOC.TIOCPKT, 1, 'TIOCPKT');
    if (masterInfo.exclusive) ioctlArg(master, TIOC.TIOCEXCL, 0, 'TIOCEXCL');
    if (slaveInfo?.uid !== undefined) chownSync(`/dev/pts/${index}`, Number(slaveInfo.uid), Number(slaveInfo.gid));
    if (masterInfo.locked) ioctlSetInt(master, TIOC.TIOCSPTLCK, 1, 'TIOCSPTLCK');
    const pair: Pair = { master, index, locked: Boolean(masterInfo.locked) };
    s.pairs.set(dumped, pair);
    ctx.log.debug(`pty ${dumped}: /dev/pts/${index} built (master fd ${master} in cryo)`);
    return pair;
  } catch (e) {
    closeSync(master);
    throw e;
  }
}

function openSlave(pair: Pair, info: Entry, flags: number): number {
  return withMaster(pair, (m) => {
    // A locked pty refuses every slave open, root's too: unlock just around it.
    if (pair.locked) ioctlSetInt(m, TIOC.TIOCSPTLCK, 0, 'TIOCSPTLCK');
    let fd: number;
    try {
      fd = openSync(`/dev/pts/${pair.index}`, flags);
    } finally {
      if (pair.locked) ioctlSetInt(m, TIOC.TIOCSPTLCK, 1, 'TIOCSPTLCK');
    }
    if (info.exclusive) ioctlArg(fd, TIOC.TIOCEXCL, 0, 'TIOCEXCL');
    return fd;
  });
}

/** A terminal outside the dumped tree: the task gets cryo's own (CRIU: its stdin). */
function openExternal(ctx: RestoreContext, s: TtyRestoreState, info: Entry, fileId: number): number {
  if (!ctx.shellJob) {
    throw new UnsupportedError(`files.img: tty ${fileId} is a terminal the dumped tree did not create (a shell job)`, {
      hint: 'restore with --shell-job (-j), from a terminal: the task gets cryo\'s terminal',
    });
  }
  const own = [0, 1, 2].find((fd) => tty().isatty(fd));
  if (own === undefined) {
    throw new UnsupportedError('the task used its shell\'s terminal, and cryo restore runs on no terminal to give it', {
      hint: 'run `cryo restore -j` with its stdin (or stdout, stderr) on a terminal',
    });
  }
  if (!s.external.has(Number(info.id))) {
    s.external.add(Number(info.id));
    // As CRIU does for an inherited terminal: the task's termios and window size.
    applyParams(own, info);
  }
  return fcntl(own, F.DUPFD_CLOEXEC, 0);
}

/** The session leader gets its controlling terminal back (injected: it is per-session), and its foreground group. */
function setControllingTty(ctx: RestoreContext, task: RestoreTask, fd: number, pgrp: number): void {
  const t = task.remote.leader;
  t.call('ioctl', NR.ioctl, fd, TIOC.TIOCSCTTY, 0);
  ctx.ttys!.ctty.add(task.pid);
  if (pgrp <= 0) return;
  const b = Buffer.alloc(4);
  b.writeInt32LE(pgrp, 0);
  try {
    t.call('ioctl', NR.ioctl, fd, TIOC.TIOCSPGRP, task.remote.put(12288, b));
  } catch (e) {
    ctx.log.warn(`${task.pid}: can't make process group ${pgrp} the foreground of its terminal: ${(e as Error).message}`);
  }
  ctx.log.debug(`${task.pid}: controlling terminal set (fd ${fd}, foreground group ${pgrp})`);
}

