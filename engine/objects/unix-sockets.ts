// AF_UNIX sockets (files.img UNIXSK entries, queued data in sk-queues.img), as CRIU's sk-unix.c.
//
// Dump: unix_diag (netlink) names each socket's inode, peer, state, bound name, backlog and
// shutdown bits; a pidfd_getfd copy of the task's socket gives the options (getsockopt) and the
// queued data, read with MSG_PEEK while SO_PEEK_OFF walks the queue, so nothing is consumed. A peer
// outside the dumped tree, a listening socket with connections not accepted yet, or files in flight in a
// queue (SCM_RIGHTS, seen by the peek), fails the dump.
//
// Restore: every socket is built in cryo's own process (FdKind.open) and handed to the task.
// Peers are built together: socketpair for pairs, and connect + accept on the rebuilt listener for
// connections accepted from a listener of the tree (both ends keep their names). The end not
// handed over yet waits in a restore-wide map, keyed by file id. Queues are refilled by sending
// from the peer, then the shut-down halves are shut down again.
import { chmodSync, chownSync, lstatSync, readlinkSync, unlinkSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ImageError, RuntimeError, UnsupportedError } from '../../errors.ts';
import {
  AF,
  F,
  MSG,
  O,
  SHUT,
  SO,
  SOCK,
  SOL,
  accept,
  bind,
  closeFd,
  connect,
  fcntl,
  getsockoptInt,
  listen,
  parseCmsgs,
  recvMsg,
  scmRights,
  sendTo,
  setsockoptInt,
  shutdown,
  socket,
  socketpair,
  type RecvMsg,
  type SockAddr,
} from '../../native/index.ts';
import type { DumpContext, RestoreContext } from '../context.ts';
import { dumpSockOpts, restoreSockOpts } from './sk-opts.ts';
import { imageFileName } from '../images/index.ts';
import { UNIX_STATE, unixDiagByIno, type UnixDiag } from '../net/index.ts';
import { readCwd } from '../proc/index.ts';
import { FOWN, O_NONBLOCK, withOwnCopy, type Entry, type FdFacts, type FdKind } from './fd-kind.ts';

const FD_TYPE_UNIXSK = 5;
/** unix_sk_entry.uflags: a peer outside the tree (--ext-unix-sk), connected to by name, never built. */
const USK_EXTERN = 1;
/** sk_shutdown bits (= sk_shutdown enum of the image). */
const RCV_SHUTDOWN = 1;
const SEND_SHUTDOWN = 2;
/** Not in every libc's headers yet (Linux 5.14). */
const TYPE_NAME: Readonly<Record<number, string>> = { 1: 'stream', 2: 'dgram', 5: 'seqpacket' };

/** What the dump keeps across sockets (and processes) until every fd is dumped. */
export interface UnixDumpState {
  /** Dumped sockets by inode. */
  readonly sockets: Map<number, { readonly id: number; readonly type: number; readonly peer: number; readonly where: string }>;
  /** sk-queues.img entries and their payloads, in order. */
  readonly queues: { readonly entry: Entry; readonly payload: Buffer }[];
}

/** What the restore keeps across fds (and processes). */
export interface UnixRestoreState {
  readonly byIno: Map<number, Entry>;
  /** Queued packets by the file id of the socket that receives them. */
  readonly queues: Map<number, Buffer[]>;
  /** Sockets built in cryo and not handed to their task yet, by file id → cryo's fd. */
  readonly built: Map<number, number>;
  /** File ids built so far (handed over or not). */
  readonly created: Set<number>;
}

// ---- dump ----

const socketIno = (link: string): number | undefined => {
  const m = /^socket:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : undefined;
};

/** How a name reads in messages: a path, or @name for an abstract one. */
export function unixNameText(name: Buffer | undefined): string {
  if (!name || name.length === 0) return '(unnamed)';
  if (name[0] === 0) return `@${name.subarray(1).toString('latin1')}`;
  const nul = name.indexOf(0);
  return name.subarray(0, nul < 0 ? name.length : nul).toString();
}

const isEagain = (e: unknown): boolean => (e as { code?: string }).code === 'EAGAIN';

/** Room for the control messages of one peek: SCM_RIGHTS of up to 253 fds, credentials. */
const CONTROL_SIZE = 4096;

/** A peeked queue: its packets, and what the files passed in it (SCM_RIGHTS, in flight) were. */
interface PeekedQueue {
  readonly packets: Buffer[];
  readonly inFlight: string[];
}

/**
 * The receive queue without consuming it: MSG_PEEK from SO_PEEK_OFF 0 on, one datagram (or one
 * run of stream bytes) per call, then the task's own peek offset is put back. Files passed in
 * the queue come with the peek (the kernel installs copies of them in cryo): they are noted and
 * closed at once.
 */
function peekQueue(own: number, d: UnixDiag): PeekedQueue {
  if (d.state === UNIX_STATE.LISTEN) return { packets: [], inFlight: [] };
  const stream = d.type === SOCK.STREAM;
  const oldOff = getsockoptInt(own, SOL.SOCKET, SO.PEEK_OFF);
  const packets: Buffer[] = [];
  const inFlight: string[] = [];
  setsockoptInt(own, SOL.SOCKET, SO.PEEK_OFF, 0);
  try {
    let buf = Buffer.alloc(Math.max(d.rqlen?.rqueue ?? 0, 4096));
    let off = 0;
    for (;;) {
      let r: RecvMsg;
      try {
        r = recvMsg(own, buf, CONTROL_SIZE, MSG.PEEK | MSG.DONTWAIT | MSG.CMSG_CLOEXEC | (stream ? 0 : MSG.TRUNC));
      } catch (e) {
        if (isEagain(e)) break;
        throw e;
      }
      for (const fd of scmRights(parseCmsgs(r.control))) {
        inFlight.push(fdLink(fd));
        closeFd(fd);
      }
      // Control data cut short: fds were passed that did not fit (the kernel closed them).
      if (r.flags & MSG.CTRUNC) inFlight.push('(more)');
      const n = r.n;
      if (n === 0) break; // end of the queue (a shut-down reader), or an empty datagram: CRIU stops too
      if (n > buf.length) {
        // A datagram larger than the buffer: peek it again, whole.
        buf = Buffer.alloc(n);
        setsockoptInt(own, SOL.SOCKET, SO.PEEK_OFF, off);
        continue;
      }
      packets.push(Buffer.from(buf.subarray(0, n)));
      off += n;
    }
  } finally {
    setsockoptInt(own, SOL.SOCKET, SO.PEEK_OFF, oldOff);
  }
  return { packets, inFlight };
}

function fdLink(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return `fd ${fd}`;
  }
}

/** Name facts of a socket bound to a path: its directory for a relative name, mode and owner, or that it was unlinked. */
function pathFacts(pid: number, name: Buffer, d: UnixDiag): Entry {
  const path = unixNameText(name);
  const out: Entry = {};
  let abs = path;
  if (!isAbsolute(path)) {
    out.name_dir = readCwd(pid);
    abs = join(out.name_dir as string, path);
  }
  try {
    const st = lstatSync(abs);
    if (st.isSocket() && (d.vfs === undefined || st.ino === d.vfs.ino)) {
      out.file_perms = { mode: st.mode, uid: st.uid, gid: st.gid };
      return out;
    }
  } catch {
    // gone
  }
  out.deleted = true;
  return out;
}

function dumpState(ctx: DumpContext): UnixDumpState {
  ctx.unix ??= { sockets: new Map(), queues: [] };
  return ctx.unix;
}

function isUnix(f: FdFacts): boolean {
  if (socketIno(f.link) === undefined) return false;
  return withOwnCopy(f.pid, f.fd, (own) => getsockoptInt(own, SOL.SOCKET, SO.DOMAIN)) === AF.UNIX;
}

function dumpUnix(ctx: DumpContext, f: FdFacts): Entry {
  const ino = socketIno(f.link)!;
  const where = `${f.pid}: fd ${f.fd}`;
  const d = unixDiagByIno(ino);
  if (!d) {
    throw new UnsupportedError(`${where}: unix socket ${ino} is not in cryo's network namespace`, {
      hint: 'run cryo in the network namespace of the task (network namespaces are not supported yet)',
    });
  }
  const what = `${TYPE_NAME[d.type] ?? `type ${d.type}`} unix socket ${unixNameText(d.name)} (ino ${ino})`;
  if (!(d.type in TYPE_NAME)) throw new UnsupportedError(`${where}: ${what}`, { hint: 'only stream, dgram and seqpacket unix sockets are supported' });
  const pending = d.icons?.length ?? 0;
  if (d.state === UNIX_STATE.LISTEN && (pending > 0 || (d.rqlen?.rqueue ?? 0) > 0)) {
    throw new UnsupportedError(`${where}: listening ${what} has ${pending || d.rqlen!.rqueue} connection(s) not accepted yet`, {
      hint: 'pending connections of a listening socket are not supported yet: dump once the task has accepted them',
    });
  }
  if (d.state !== UNIX_STATE.LISTEN && d.state !== UNIX_STATE.ESTABLISHED && d.state !== UNIX_STATE.CLOSE) {
    throw new UnsupportedError(`${where}: ${what} is in state ${d.state} (connecting)`, { hint: 'dump once the connection is established' });
  }
  const { opts, queue } = withOwnCopy(f.pid, f.fd, (own) => ({ opts: dumpSockOpts(own, false), queue: peekQueue(own, d) }));
  if (queue.inFlight.length) {
    throw new UnsupportedError(`${where}: ${what} has file descriptors in flight in its queue (SCM_RIGHTS): ${queue.inFlight.join(', ')}`, {
      hint: 'files passed over a unix socket and not received yet are not supported: dump once the task has received them',
    });
  }
  const id = ctx.fileIds.next();
  const name = d.name ?? Buffer.alloc(0);
  const usk: Entry = {
    id,
    ino,
    type: d.type,
    state: d.state,
    flags: f.info.flags & ~O.CLOEXEC,
    uflags: 0,
    backlog: d.state === UNIX_STATE.LISTEN ? (d.rqlen?.wqueue ?? 0) : 0,
    peer: d.peer ?? 0,
    fown: FOWN,
    opts,
    name,
    ...(d.shutdown ? { shutdown: d.shutdown } : {}),
    ...(name.length > 0 && name[0] !== 0 ? pathFacts(f.pid, name, d) : {}),
  };
  const st = dumpState(ctx);
  st.sockets.set(ino, { id, type: d.type, peer: usk.peer as number, where: `${where}: ${what}` });
  for (const p of queue.packets) st.queues.push({ entry: { id_for: id, length: p.length }, payload: p });
  ctx.log.debug(`${where}: ${what} state ${d.state} peer ${usk.peer}, ${queue.packets.length} queued packet(s)`);
  return { type: FD_TYPE_UNIXSK, id, usk };
}

/**
 * Once every fd of the tree is dumped: each peer must be one of the dumped sockets, or (CRIU's
 * "external socket", with --ext-unix-sk) a named datagram socket outside the tree, saved as an
 * entry of its own marked USK_EXTERN that restore connects to by name and never builds. The
 * queued data goes to sk-queues.img.
 */
export function finishUnixDump(ctx: DumpContext): void {
  const st = ctx.unix;
  if (!st) return;
  const external = new Set<number>(); // peers saved as USK_EXTERN entries
  for (const [ino, s] of st.sockets) {
    if (s.peer === 0 || st.sockets.has(s.peer) || external.has(s.peer)) continue;
    const peer = unixDiagByIno(s.peer);
    const outside = `${s.where} is connected to ${unixNameText(peer?.name)} (ino ${s.peer}), outside the dumped tree: external unix socket ${ino}`;
    if (s.type !== SOCK.DGRAM) {
      throw new UnsupportedError(outside, {
        hint: 'a stream connection to a peer outside the tree can\'t be made again (--ext-unix-sk, as in CRIU, covers datagram sockets only): dump the peer too, or have the task close this connection',
      });
    }
    if (!ctx.extUnixSk) throw new UnsupportedError(outside, { hint: 'with --ext-unix-sk (as CRIU) it is saved with the peer\'s name and connected to it again at restore' });
    const name = peer?.name;
    if (!peer || !name || name.length === 0 || (name[0] !== 0 && name[0] !== 0x2f)) {
      throw new UnsupportedError(outside, { hint: 'the peer outside the tree has no absolute or abstract name to connect to again at restore' });
    }
    const id = ctx.fileIds.next();
    const usk: Entry = {
      id, ino: s.peer, type: peer.type, state: peer.state, flags: 0, uflags: USK_EXTERN, backlog: 0, peer: 0, fown: FOWN, name,
      // Not the task's: nothing of it is restored, but the entry must have them.
      opts: { so_sndbuf: 0, so_rcvbuf: 0, so_snd_tmo_sec: 0n, so_snd_tmo_usec: 0n, so_rcv_tmo_sec: 0n, so_rcv_tmo_usec: 0n },
    };
    external.add(s.peer);
    ctx.files.push({ type: FD_TYPE_UNIXSK, id, usk });
    ctx.log.debug(`${s.where}: its peer ${unixNameText(name)} (ino ${s.peer}) is outside the tree: saved as external (--ext-unix-sk)`);
  }
  if (st.queues.length) ctx.images.write('SK_QUEUES', st.queues.map((q) => q.entry), { payloads: st.queues.map((q) => q.payload) });
}

// ---- restore ----

function restoreState(ctx: RestoreContext): UnixRestoreState {
  if (ctx.unix) return ctx.unix;
  const byIno = new Map<number, Entry>();
  for (const f of ctx.files.values()) if (f.type === FD_TYPE_UNIXSK && f.usk) byIno.set(Number(f.usk.ino), f.usk as Entry);
  const ids = new Set([...byIno.values()].map((u) => Number(u.id)));
  const queues = new Map<number, Buffer[]>();
  if (ctx.images.list().includes(imageFileName('SK_QUEUES'))) {
    for (const { entry, payload } of ctx.images.readWithPayloads('SK_QUEUES')) {
      const id = Number(entry.id_for);
      if (!ids.has(id)) throw new ImageError(`sk-queues.img: a packet for file id ${id}, which is no unix socket of files.img`);
      if (entry.scm !== undefined && (entry.scm as unknown[]).length) throw new ImageError(`sk-queues.img: packets with passed fds (scm) are not supported yet`);
      const list = queues.get(id) ?? [];
      list.push(payload ?? Buffer.alloc(0));
      queues.set(id, list);
    }
  }
  for (const u of byIno.values()) {
    const peer = Number(u.peer);
    if (peer !== 0 && !byIno.has(peer)) throw new ImageError(`files.img: unix socket ${u.ino} has peer ${peer}, which is not in the images`);
  }
  ctx.unix = { byIno, queues, built: new Map(), created: new Set() };
  return ctx.unix;
}

function nameOf(u: Entry): Buffer {
  return Buffer.from(u.name as Uint8Array);
}

/** Where a socket's name is reachable from cryo: abstract bytes, or the path made absolute. */
function addressOf(u: Entry): Extract<SockAddr, { family: 1 }> {
  const name = nameOf(u);
  if (name[0] === 0) return { family: AF.UNIX, path: name };
  const path = unixNameText(name);
  return { family: AF.UNIX, path: Buffer.from(u.name_dir && !isAbsolute(path) ? join(u.name_dir as string, path) : path) };
}


function newSocket(u: Entry): number {
  const fd = socket(AF.UNIX, Number(u.type) | SOCK.CLOEXEC);
  restoreSockOpts(fd, u.opts as Entry, false);
  return fd;
}

/** bind() to the dumped name: a stale socket file of the dead original is unlinked first (CRIU too). */
function bindName(fd: number, u: Entry): void {
  const name = nameOf(u);
  if (name.length === 0) return;
  if (name[0] === 0) {
    bind(fd, { family: AF.UNIX, path: name });
    return;
  }
  const abs = addressOf(u).path.toString();
  try {
    if (lstatSync(abs).isSocket()) unlinkSync(abs);
  } catch {
    // nothing there
  }
  const cwd = process.cwd();
  // A relative name is bound from its directory, so getsockname() reads as it did.
  if (u.name_dir) process.chdir(u.name_dir as string);
  try {
    bind(fd, { family: AF.UNIX, path: name });
  } finally {
    if (u.name_dir) process.chdir(cwd);
  }
  const perms = u.file_perms as Entry | undefined;
  if (perms) {
    chmodSync(abs, Number(perms.mode) & 0o7777);
    chownSync(abs, Number(perms.uid), Number(perms.gid));
  }
}

/** Sends the packets queued for `u` from `from` (to its connected peer, or to `to`). */
function refill(st: UnixRestoreState, u: Entry, from: number, to?: SockAddr): void {
  const stream = Number(u.type) === SOCK.STREAM;
  for (const p of st.queues.get(Number(u.id)) ?? []) {
    let off = 0;
    do {
      try {
        off += sendTo(from, p.subarray(off), MSG.DONTWAIT | MSG.NOSIGNAL, to);
      } catch (e) {
        throw new RuntimeError(`can't refill the queue of unix socket ${u.ino} (${unixNameText(nameOf(u))}): ${(e as Error).message}`, {
          cause: e,
          hint: isEagain(e) ? 'the queue no longer fits: net.unix.max_dgram_qlen or the buffer sizes are smaller here' : undefined,
        });
      }
    } while (stream && off < p.length);
  }
}

function shutdownAsDumped(fd: number, u: Entry): void {
  const s = Number(u.shutdown ?? 0);
  if (s & SEND_SHUTDOWN) shutdown(fd, SHUT.WR);
  if (s & RCV_SHUTDOWN) shutdown(fd, SHUT.RD);
}

function keep(st: UnixRestoreState, u: Entry, fd: number): void {
  st.built.set(Number(u.id), fd);
  st.created.add(Number(u.id));
}

/** The connected pair (a, b) as one: queues refilled from each other, then shut down as dumped. */
function finishPair(st: UnixRestoreState, a: Entry, fa: number, b: Entry, fb: number): void {
  keep(st, a, fa);
  keep(st, b, fb);
  refill(st, a, fb);
  refill(st, b, fa);
  shutdownAsDumped(fa, a);
  shutdownAsDumped(fb, b);
}

const sameName = (a: Entry, b: Entry): boolean => nameOf(a).length > 0 && nameOf(a).equals(nameOf(b));

/**
 * A listener, and every connection of the images that was accepted from it (the accepted end
 * carries the listener's name): connect + accept now, while cryo still holds the listener.
 */
function buildListener(st: UnixRestoreState, l: Entry): void {
  const fd = newSocket(l);
  bindName(fd, l);
  listen(fd, Number(l.backlog));
  keep(st, l, fd);
  for (const s of st.byIno.values()) {
    if (st.created.has(Number(s.id)) || Number(s.state) !== UNIX_STATE.ESTABLISHED || Number(s.type) !== Number(l.type) || !sameName(s, l)) continue;
    const c = st.byIno.get(Number(s.peer));
    if (!c || Number(c.peer) !== Number(s.ino)) continue;
    const fc = newSocket(c);
    bindName(fc, c);
    connect(fc, addressOf(l));
    const fs = accept(fd, SOCK.CLOEXEC);
    restoreSockOpts(fs, s.opts as Entry, false);
    finishPair(st, c, fc, s, fs);
  }
}

function build(st: UnixRestoreState, u: Entry): void {
  // A peer outside the tree (--ext-unix-sk): its sockets connect to it by name, nothing is built.
  if (st.created.has(Number(u.id)) || Number(u.uflags) & USK_EXTERN) return;
  const type = Number(u.type);
  const state = Number(u.state);
  const peer = Number(u.peer) === 0 ? undefined : st.byIno.get(Number(u.peer));
  if (state === UNIX_STATE.LISTEN) return buildListener(st, u);
  if (type !== SOCK.DGRAM && state === UNIX_STATE.ESTABLISHED) {
    if (peer) {
      // Accepted from a listener of the images: built with that listener.
      const listener = [...st.byIno.values()].find((l) => Number(l.state) === UNIX_STATE.LISTEN && Number(l.type) === type && (sameName(l, u) || sameName(l, peer)));
      if (listener) {
        build(st, listener);
        if (st.created.has(Number(u.id))) return;
      }
      const [fa, fb] = socketpair(AF.UNIX, type | SOCK.CLOEXEC);
      restoreSockOpts(fa, u.opts as Entry, false);
      restoreSockOpts(fb, peer.opts as Entry, false);
      // Without its listener an accepted end can't get its name back (CRIU leaves it unnamed too).
      return finishPair(st, u, fa, peer, fb);
    }
    // The peer was closed: a pair whose other end goes away after the refill.
    const [fa, fb] = socketpair(AF.UNIX, type | SOCK.CLOEXEC);
    restoreSockOpts(fa, u.opts as Entry, false);
    keep(st, u, fa);
    // The dead sender's buffer size is unknown: make room for everything it left queued.
    const queued = (st.queues.get(Number(u.id)) ?? []).reduce((n, p) => n + p.length, 0);
    if (queued > 0) setsockoptInt(fb, SOL.SOCKET, SO.SNDBUFFORCE, 2 * queued + 65536);
    refill(st, u, fb);
    closeFd(fb);
    return shutdownAsDumped(fa, u);
  }
  if (type === SOCK.DGRAM && peer && Number(peer.peer) === Number(u.ino)) {
    const [fa, fb] = socketpair(AF.UNIX, type | SOCK.CLOEXEC);
    restoreSockOpts(fa, u.opts as Entry, false);
    restoreSockOpts(fb, peer.opts as Entry, false);
    bindName(fa, u);
    bindName(fb, peer);
    return finishPair(st, u, fa, peer, fb);
  }
  // On its own: bound, refilled by whoever may send to it, then connected to its peer.
  const fd = newSocket(u);
  bindName(fd, u);
  keep(st, u, fd);
  if (st.queues.get(Number(u.id))?.length) {
    if (nameOf(u).length === 0) throw new RuntimeError(`unix socket ${u.ino} has queued data but no name to send it to`);
    const tmp = socket(AF.UNIX, type | SOCK.CLOEXEC);
    try {
      refill(st, u, tmp, addressOf(u));
    } finally {
      closeFd(tmp);
    }
  }
  if (peer) {
    build(st, peer);
    if (nameOf(peer).length === 0) throw new RuntimeError(`unix socket ${u.ino} is connected to unnamed socket ${peer.ino} that is not its pair`);
    try {
      connect(fd, addressOf(peer));
    } catch (e) {
      if (!(Number(peer.uflags) & USK_EXTERN)) throw e;
      throw new RuntimeError(`unix socket ${u.ino} can't connect again to ${unixNameText(nameOf(peer))}, outside the restored tree: ${(e as Error).message}`, {
        cause: e,
        hint: 'the socket it was connected to at the dump (a logging daemon?) must be listening at that name when the tree is restored',
      });
    }
  }
  shutdownAsDumped(fd, u);
}

function openUnix(ctx: RestoreContext, file: Entry): number {
  const st = restoreState(ctx);
  const u = file.usk as Entry;
  const id = Number(u.id);
  build(st, u);
  const fd = st.built.get(id);
  if (fd === undefined) throw new RuntimeError(`unix socket ${u.ino} (file id ${id}) was already handed to a task`);
  st.built.delete(id);
  fcntl(fd, F.SETFL, Number(u.flags) & O_NONBLOCK);
  ctx.log.debug(`unix socket ${u.ino} (${unixNameText(nameOf(u))}) built, state ${u.state}, peer ${u.peer}`);
  return fd;
}

export const unixSocketKind: FdKind = {
  name: 'unix socket',
  type: FD_TYPE_UNIXSK,
  matches: isUnix,
  dump: dumpUnix,
  open: openUnix,
  afterAll(_ctx, _task, file) {
    // A socket file the original had unlinked goes away again, once nobody needs to connect to it.
    const u = file.usk as Entry;
    if (u.deleted && nameOf(u).length > 0 && nameOf(u)[0] !== 0) {
      try {
        unlinkSync(addressOf(u).path.toString());
      } catch {
        // already gone
      }
    }
  },
};
