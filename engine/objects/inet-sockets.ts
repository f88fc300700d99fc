// IPv4/IPv6 sockets (files.img INETSK entries: inet_sk_entry), CRIU's sk-inet.c + sk-tcp.c.
// Dump: a pidfd_getfd copy of the task's socket says its family, type and options; inet_diag
// its state, addresses and backlog. Listening and unconnected TCP sockets and UDP sockets are
// rebuilt from that. An established TCP connection (only with --tcp-established) is locked in
// the network, put in repair mode and read out: sequence numbers, both queues, options, window
// (tcp-stream-<ino>.img). Restore builds each socket in cryo's own process (bind, listen,
// connect; a connection in repair mode, so connect sends no SYN) and hands it to the task; the
// repaired connections leave repair mode once the network is unlocked.
import {
  AF,
  F,
  IPPROTO,
  IPV6_V6ONLY,
  IP_FREEBIND,
  MSG,
  O,
  SHUT,
  SIOC,
  SO,
  SOCK,
  SOL,
  TCP,
  TCPI_OPT,
  TCPOPT,
  TCP_QUEUE,
  TCP_STATE,
  bind,
  closeFd,
  connect,
  fcntl,
  getsockoptBuf,
  getsockoptInt,
  ioctlInt,
  listen,
  recvFrom,
  sendTo,
  setsockoptBuf,
  setsockoptInt,
  shutdown,
  socket,
  sockDiag,
  type SockAddr,
} from '../../native/index.ts';
import { RuntimeError, UnsupportedError } from '../../errors.ts';
import type { DumpContext, RestoreContext } from '../context.ts';
import type { HookName } from '../hooks.ts';
import type { Logger } from '../log.ts';
import { inetDiagRequest, parseInetDiag, type InetDiag } from '../net/index.ts';
import { FOWN, O_NONBLOCK, withOwnCopy, type Entry, type FdFacts, type FdKind } from './fd-kind.ts';
import {
  NETWORK_LOCK_METHOD,
  connText,
  lockConnection,
  lockMethodByNumber,
  pickLockMethod,
  unlockConnections,
  type Conn,
  type LockMethod,
} from './net-lock.ts';
import { dumpSockOpts, restoreSockOpts } from './sk-opts.ts';

const F_DUPFD_CLOEXEC = 1030;
/** sk_shutdown values of the image ↔ how for shutdown(2). */
const SHUTDOWN_HOW: Record<number, number> = { 1: SHUT.RD, 2: SHUT.WR, 3: SHUT.RDWR };
const STATE_NAMES = Object.fromEntries(Object.entries(TCP_STATE).map(([k, v]) => [v, k])) as Record<number, string>;

type Hook = (action: HookName) => Promise<void>;

/**
 * What a dump did to established connections and must undo when the task runs on: cryo's own
 * copies of the sockets it put in repair mode, and the connections it locked in the network.
 */
export class InetDumpState {
  readonly rootPid: number;
  readonly tcpEstablished: boolean;
  /** --tcp-close: established connections are saved as they are, to come back closed. */
  readonly tcpClose: boolean;
  /** --skip-in-flight: connections waiting in a listener's accept queue are left out. */
  readonly skipInFlight: boolean;
  /** --network-lock: how to lock established connections (default: nftables, else iptables). */
  readonly networkLock: LockMethod | undefined;
  method: LockMethod | undefined;
  readonly locked: Conn[] = [];
  readonly repaired: number[] = [];
  #lockHookFired = false;

  constructor(rootPid: number, opts: { tcpEstablished?: boolean; tcpClose?: boolean; skipInFlight?: boolean; networkLock?: LockMethod | undefined }) {
    this.rootPid = rootPid;
    this.tcpEstablished = opts.tcpEstablished ?? false;
    this.tcpClose = opts.tcpClose ?? false;
    this.skipInFlight = opts.skipInFlight ?? false;
    this.networkLock = opts.networkLock;
  }

  /** inventory_entry.network_lock_method: the method used (or that would be used). */
  get networkLockMethod(): number {
    if (this.method) return NETWORK_LOCK_METHOD[this.method];
    try {
      return NETWORK_LOCK_METHOD[pickLockMethod(this.networkLock)];
    } catch {
      return NETWORK_LOCK_METHOD.iptables;
    }
  }

  lock(c: Conn): void {
    this.method ??= pickLockMethod(this.networkLock);
    lockConnection(this.method, this.rootPid, c);
    this.locked.push(c);
  }

  /** Fires the network-lock action once connections are locked. */
  async afterLock(hook: Hook): Promise<void> {
    if (this.locked.length === 0 || this.#lockHookFired) return;
    this.#lockHookFired = true;
    await hook('network-lock');
  }

  /**
   * The dump is over. A task that runs on ('running', or any failed dump) gets its connections
   * out of repair mode and unlocked; a killed task's connections stay locked for the restore
   * (its sockets close silently in repair mode); a stopped task keeps both, as with CRIU.
   */
  async finish(final: 'running' | 'stopped' | 'killed' | 'failed', hook: Hook, log: Logger): Promise<void> {
    const runsOn = final === 'running' || final === 'failed';
    for (const fd of this.repaired.splice(0)) {
      try {
        if (runsOn) setsockoptInt(fd, SOL.TCP, TCP.REPAIR, 0);
      } catch (e) {
        log.error(`can't take a TCP socket out of repair mode: ${(e as Error).message}`);
      } finally {
        closeFd(fd);
      }
    }
    // Also with nothing locked yet: a lock that failed halfway may have left its table.
    if (!runsOn || !this.method) return;
    if (this.#lockHookFired) {
      try {
        await hook('network-unlock');
      } catch (e) {
        log.error(`network-unlock hook failed: ${(e as Error).message}`);
      }
    }
    for (const err of unlockConnections(this.method, this.rootPid, this.locked.splice(0))) log.error(`can't unlock the network: ${err}`);
  }
}

/** Restore side: cryo's copies of the connections rebuilt in repair mode, by file id. */
export interface InetRestoreState {
  readonly repaired: Map<number, number>;
}

function inetState(ctx: RestoreContext): InetRestoreState {
  ctx.inet ??= { repaired: new Map() };
  return ctx.inet;
}

const words = (a: Buffer): number[] => Array.from({ length: a.length / 4 }, (_, i) => a.readUInt32LE(i * 4));
function addrBytes(w: readonly number[] | undefined, family: number): Buffer {
  const b = Buffer.alloc(family === AF.INET6 ? 16 : 4);
  (w ?? []).forEach((x, i) => i * 4 < b.length && b.writeUInt32LE(Number(x) >>> 0, i * 4));
  return b;
}
const sockAddr = (family: number, addr: Buffer, port: number): SockAddr => ({ family: family as 2 | 10, addr, port });

function findDiag(family: number, proto: number, ino: number): InetDiag | undefined {
  for (const msg of sockDiag(inetDiagRequest(family, proto))) {
    const d = parseInetDiag(msg);
    if (d.inode === ino) return d;
  }
  return undefined;
}

function socketIno(link: string): number {
  return Number(/^socket:\[(\d+)\]$/.exec(link)?.[1] ?? NaN);
}

function dumpOne(ctx: DumpContext, f: FdFacts, own: number): Entry {
  const where = `${f.pid}: fd ${f.fd} (${f.link})`;
  const ino = socketIno(f.link);
  const family = getsockoptInt(own, SOL.SOCKET, SO.DOMAIN);
  const type = getsockoptInt(own, SOL.SOCKET, SO.TYPE);
  const proto = getsockoptInt(own, SOL.SOCKET, SO.PROTOCOL);
  const tcp = type === SOCK.STREAM && proto === IPPROTO.TCP;
  if (!tcp && !(type === SOCK.DGRAM && proto === IPPROTO.UDP)) {
    throw new UnsupportedError(`${where}: inet socket of type ${type}, protocol ${proto}`, { hint: 'only TCP and UDP sockets are supported' });
  }
  const d = findDiag(family, proto, ino);
  if (!d) throw new UnsupportedError(`${where}: the socket is not in cryo's network namespace`, { hint: 'network namespaces are not supported yet' });
  const state = d.state;
  if (tcp) {
    if (state === TCP_STATE.LISTEN && d.rqueue !== 0) {
      const inFlight = `in-flight connection (l) for ${ino.toString(16)}: ${d.rqueue} connection(s) wait in the accept queue`;
      if (!ctx.inet?.skipInFlight) {
        throw new UnsupportedError(`${where}: ${inFlight}`, { hint: 'accept them first, or dump with --skip-in-flight to leave them out (their clients see a reset and retry), as CRIU' });
      }
      ctx.log.warn(`${where}: ${inFlight}: left out (--skip-in-flight)`);
    }
    if (state === TCP_STATE.ESTABLISHED && !ctx.inet?.tcpEstablished && !ctx.inet?.tcpClose) {
      throw new UnsupportedError(`${where}: Connected TCP socket, consider using --tcp-established option.`, {
        hint: 'with --tcp-established the connection is saved in TCP repair mode and locked in the network until the restore; with --tcp-close it comes back closed',
      });
    }
    if (state !== TCP_STATE.LISTEN && state !== TCP_STATE.CLOSE && state !== TCP_STATE.ESTABLISHED) {
      throw new UnsupportedError(`${where}: TCP socket in state ${STATE_NAMES[state] ?? state}`, {
        hint: 'listening, unconnected and established TCP sockets are supported',
      });
    }
    if (state === TCP_STATE.ESTABLISHED && d.shutdown) {
      throw new UnsupportedError(`${where}: a half-closed (shut down) TCP connection`, { hint: 'only open connections are supported' });
    }
  }
  const id = ctx.fileIds.next();
  const isk: Entry = {
    id,
    ino,
    family,
    type,
    proto,
    state,
    src_port: d.srcPort,
    dst_port: d.dstPort,
    flags: f.info.flags & ~O.CLOEXEC,
    backlog: state === TCP_STATE.LISTEN ? d.wqueue : 0,
    src_addr: words(d.src),
    dst_addr: words(d.dst),
    fown: FOWN,
    opts: dumpSockOpts(own, tcp),
  };
  if (family === AF.INET6) isk.v6only = getsockoptInt(own, IPPROTO.IPV6, IPV6_V6ONLY) !== 0;
  if (getsockoptInt(own, SOL.IP, IP_FREEBIND)) isk.ip_opts = { freebind: true };
  if (d.shutdown) isk.shutdown = d.shutdown & 3;
  if (tcp && state === TCP_STATE.ESTABLISHED && ctx.inet?.tcpClose) ctx.log.debug(`${where}: TCP connection ${ino.toString(16)} saved to come back closed (--tcp-close)`);
  else if (tcp && state === TCP_STATE.ESTABLISHED) dumpTcpStream(ctx, own, isk, { family: family as 2 | 10, src: d.src, srcPort: d.srcPort, dst: d.dst, dstPort: d.dstPort });
  return { type: FD_TYPE_INETSK, id, isk };
}

const FD_TYPE_INETSK = 4;

/** Peeks `len` bytes of the queue selected with TCP_REPAIR_QUEUE. */
function peekQueue(fd: number, len: number, which: string): Buffer {
  if (len === 0) return Buffer.alloc(0);
  const buf = Buffer.alloc(len + 1);
  const { n } = recvFrom(fd, buf, MSG.PEEK | MSG.DONTWAIT);
  if (n !== len) throw new RuntimeError(`TCP ${which} queue: read ${n} bytes, expected ${len}`);
  return buf.subarray(0, len);
}

/** CRIU's dump_tcp_conn_state (libsoccr_save): lock, repair mode, then read everything. */
function dumpTcpStream(ctx: DumpContext, own: number, isk: Entry, conn: Conn): void {
  const inet = ctx.inet!;
  inet.lock(conn);
  ctx.log.info(`locked TCP connection ${connText(conn)}`);
  // A copy of our own: the dump's end switches repair mode off on it (task running on) or just
  // closes it (task killed: the socket then dies silently, sending no reset).
  const held = fcntl(own, F_DUPFD_CLOEXEC, 0);
  inet.repaired.push(held);
  setsockoptInt(own, SOL.TCP, TCP.REPAIR, 1);
  const info = getsockoptBuf(own, SOL.TCP, TCP.INFO, 104);
  if (info.readUInt8(0) !== TCP_STATE.ESTABLISHED) throw new RuntimeError(`TCP socket ${isk.ino.toString(16)} left the established state`);
  const inqLen = ioctlInt(own, SIOC.INQ, 'SIOCINQ');
  const outqLen = ioctlInt(own, SIOC.OUTQ, 'SIOCOUTQ');
  const unsqLen = ioctlInt(own, SIOC.OUTQNSD, 'SIOCOUTQNSD');
  const seq = (q: number): number => {
    setsockoptInt(own, SOL.TCP, TCP.REPAIR_QUEUE, q);
    return getsockoptBuf(own, SOL.TCP, TCP.QUEUE_SEQ, 4).readUInt32LE(0);
  };
  const inqSeq = seq(TCP_QUEUE.RECV);
  const inq = peekQueue(own, inqLen, 'receive');
  const outqSeq = seq(TCP_QUEUE.SEND);
  const outq = peekQueue(own, outqLen, 'send');
  const optMask = info.readUInt8(5);
  const wscale = info.readUInt8(6);
  const tse: Entry = {
    inq_len: inqLen,
    inq_seq: inqSeq,
    outq_len: outqLen,
    outq_seq: outqSeq,
    opt_mask: optMask,
    snd_wscale: wscale & 0xf,
    mss_clamp: getsockoptInt(own, SOL.TCP, TCP.MAXSEG),
    rcv_wscale: wscale >> 4,
    timestamp: getsockoptBuf(own, SOL.TCP, TCP.TIMESTAMP, 4).readUInt32LE(0),
    unsq_len: unsqLen,
  };
  if (getsockoptInt(own, SOL.TCP, TCP.CORK)) tse.cork = true;
  if (getsockoptInt(own, SOL.TCP, TCP.NODELAY)) tse.nodelay = true;
  const win = getsockoptBuf(own, SOL.TCP, TCP.REPAIR_WINDOW, 20);
  if (win.length === 20) {
    tse.snd_wl1 = win.readUInt32LE(0);
    tse.snd_wnd = win.readUInt32LE(4);
    tse.max_window = win.readUInt32LE(8);
    tse.rcv_wnd = win.readUInt32LE(12);
    tse.rcv_wup = win.readUInt32LE(16);
  }
  ctx.images.write('TCP_STREAM', [tse], { id: Number(isk.ino), payloads: [Buffer.concat([inq, outq])] });
  ctx.log.debug(`TCP ${connText(conn)}: ${inqLen} bytes to read, ${outqLen} to send (${unsqLen} unsent)`);
}

export const inetSocketKind: FdKind = {
  name: 'inet socket',
  type: FD_TYPE_INETSK,
  matches: (f) =>
    f.link.startsWith('socket:[') &&
    withOwnCopy(f.pid, f.fd, (own) => {
      const domain = getsockoptInt(own, SOL.SOCKET, SO.DOMAIN);
      return domain === AF.INET || domain === AF.INET6;
    }),
  dump: (ctx, f) => withOwnCopy(f.pid, f.fd, (own) => dumpOne(ctx, f, own)),
  open(ctx, file) {
    const e = file.isk as Entry | undefined;
    if (!e) throw new RuntimeError(`files.img: INETSK entry ${file.id} has no isk`);
    const family = Number(e.family);
    const tcp = Number(e.proto) === IPPROTO.TCP;
    const state = Number(e.state);
    if (tcp && state === TCP_STATE.ESTABLISHED && ctx.tcpClose) return closedConnection(e, family);
    if (tcp && state === TCP_STATE.ESTABLISHED && !ctx.tcpEstablished) {
      throw new UnsupportedError(`files.img: connected TCP socket ${Number(e.ino).toString(16)} in image`, { hint: 'restore with --tcp-established, or with --tcp-close to have it come back closed' });
    }
    const fd = socket(family, Number(e.type) | SOCK.CLOEXEC, Number(e.proto));
    try {
      if (family === AF.INET6) setsockoptInt(fd, IPPROTO.IPV6, IPV6_V6ONLY, e.v6only ? 1 : 0);
      if (e.ip_opts?.freebind) setsockoptInt(fd, SOL.IP, IP_FREEBIND, 1);
      const established = tcp && state === TCP_STATE.ESTABLISHED;
      restoreSockOpts(fd, e.opts as Entry, tcp);
      // SO_REUSEADDR lets a listener bind next to a connection already restored; repair mode
      // lets a connection bind to the port its listener holds (forced reuse, which a later
      // SO_REUSEADDR would undo, so it comes last). CRIU does both.
      setsockoptInt(fd, SOL.SOCKET, SO.REUSEADDR, 1);
      if (established) setsockoptInt(fd, SOL.TCP, TCP.REPAIR, 1);
      const src = addrBytes(e.src_addr as number[], family);
      const dst = addrBytes(e.dst_addr as number[], family);
      if (Number(e.src_port) !== 0 || src.some((x) => x !== 0)) bind(fd, sockAddr(family, src, Number(e.src_port)));
      if (established) restoreTcpStream(ctx, fd, e, sockAddr(family, dst, Number(e.dst_port)));
      else if (tcp && state === TCP_STATE.LISTEN) listen(fd, Number(e.backlog));
      else if (!tcp && Number(e.dst_port) !== 0) connect(fd, sockAddr(family, dst, Number(e.dst_port)));
      if (!tcp && e.shutdown) shutdown(fd, SHUTDOWN_HOW[Number(e.shutdown)] ?? SHUT.RDWR);
      setsockoptInt(fd, SOL.SOCKET, SO.REUSEADDR, e.opts?.reuseaddr ? 1 : 0);
      fcntl(fd, F.SETFL, Number(e.flags) & O_NONBLOCK);
      if (established) inetState(ctx).repaired.set(Number(file.id), fcntl(fd, F_DUPFD_CLOEXEC, 0));
      return fd;
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  },
};

/**
 * --tcp-close: an established connection comes back as a TCP socket of its family and options
 * that was never connected, as CRIU's TCP_CLOSE state: reads fail with ENOTCONN, writes with EPIPE,
 * epoll reports it hung up. The task drops it as a lost connection.
 */
function closedConnection(e: Entry, family: number): number {
  const fd = socket(family, Number(e.type) | SOCK.CLOEXEC, Number(e.proto));
  try {
    if (family === AF.INET6) setsockoptInt(fd, IPPROTO.IPV6, IPV6_V6ONLY, e.v6only ? 1 : 0);
    restoreSockOpts(fd, e.opts as Entry, true);
    fcntl(fd, F.SETFL, Number(e.flags) & O_NONBLOCK);
    return fd;
  } catch (err) {
    closeFd(fd);
    throw err;
  }
}

/** Sends all of `data` into the queue selected with TCP_REPAIR_QUEUE (or out, when not in repair). */
function sendAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length; ) off += sendTo(fd, data.subarray(off, off + 64 * 1024), MSG.NOSIGNAL);
}

/** CRIU's restore_tcp_conn_state (libsoccr_restore) on a socket in repair mode, bound. */
function restoreTcpStream(ctx: RestoreContext, fd: number, e: Entry, peer: SockAddr): void {
  const [rec] = ctx.images.readWithPayloads('TCP_STREAM', Number(e.ino));
  if (!rec) throw new RuntimeError(`tcp-stream-${Number(e.ino).toString(16)}.img: empty`);
  const t = rec.entry as Entry;
  const inqLen = Number(t.inq_len);
  const outqLen = Number(t.outq_len);
  const payload = rec.payload ?? Buffer.alloc(0);
  if (payload.length !== inqLen + outqLen) throw new RuntimeError(`tcp-stream-${Number(e.ino).toString(16)}.img: ${payload.length} queued bytes, expected ${inqLen + outqLen}`);
  const setSeq = (q: number, seq: number): void => {
    setsockoptInt(fd, SOL.TCP, TCP.REPAIR_QUEUE, q);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(seq >>> 0, 0);
    setsockoptBuf(fd, SOL.TCP, TCP.QUEUE_SEQ, b);
  };
  // The queues start where their first byte was: the sequence numbers minus the queued bytes.
  setSeq(TCP_QUEUE.RECV, Number(t.inq_seq) - inqLen);
  setSeq(TCP_QUEUE.SEND, Number(t.outq_seq) - outqLen);
  connect(fd, peer); // in repair mode: no SYN, straight to ESTABLISHED
  const mask = Number(t.opt_mask);
  const opts: [number, number][] = [];
  if (mask & TCPI_OPT.SACK) opts.push([TCPOPT.SACK_PERM, 0]);
  if (mask & TCPI_OPT.WSCALE) opts.push([TCPOPT.WINDOW, Number(t.snd_wscale) + (Number(t.rcv_wscale ?? 0) << 16)]);
  if (mask & TCPI_OPT.TIMESTAMPS) opts.push([TCPOPT.TIMESTAMP, 0]);
  opts.push([TCPOPT.MAXSEG, Number(t.mss_clamp)]);
  const ob = Buffer.alloc(opts.length * 8);
  opts.forEach(([code, val], i) => {
    ob.writeUInt32LE(code, i * 8);
    ob.writeUInt32LE(val >>> 0, i * 8 + 4);
  });
  setsockoptBuf(fd, SOL.TCP, TCP.REPAIR_OPTIONS, ob);
  if (mask & TCPI_OPT.TIMESTAMPS && t.timestamp !== undefined) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(Number(t.timestamp) >>> 0, 0);
    setsockoptBuf(fd, SOL.TCP, TCP.TIMESTAMP, b);
  }
  setsockoptInt(fd, SOL.TCP, TCP.REPAIR_QUEUE, TCP_QUEUE.RECV);
  sendAll(fd, payload.subarray(0, inqLen));
  // Sent-but-unacknowledged bytes go back in repair mode (the peer may ack them); bytes never
  // sent are simply sent, out of repair mode.
  const unsent = Math.min(Number(t.unsq_len ?? 0), outqLen);
  const outq = payload.subarray(inqLen);
  setsockoptInt(fd, SOL.TCP, TCP.REPAIR_QUEUE, TCP_QUEUE.SEND);
  sendAll(fd, outq.subarray(0, outqLen - unsent));
  if (unsent) {
    setsockoptInt(fd, SOL.TCP, TCP.REPAIR, 0);
    sendAll(fd, outq.subarray(outqLen - unsent));
    setsockoptInt(fd, SOL.TCP, TCP.REPAIR, 1);
  }
  if (t.snd_wl1 !== undefined) {
    const w = Buffer.alloc(20);
    [t.snd_wl1, t.snd_wnd, t.max_window, t.rcv_wnd, t.rcv_wup].forEach((v, i) => w.writeUInt32LE(Number(v ?? 0) >>> 0, i * 4));
    setsockoptBuf(fd, SOL.TCP, TCP.REPAIR_WINDOW, w);
  }
  if (t.nodelay) setsockoptInt(fd, SOL.TCP, TCP.NODELAY, 1);
  if (t.cork) setsockoptInt(fd, SOL.TCP, TCP.CORK, 1);
  ctx.log.debug(`TCP socket ${Number(e.ino).toString(16)} rebuilt in repair mode: ${inqLen} bytes to read, ${outqLen} to send`);
}

/** The established TCP connections of the images, as locked at dump (none when dumped with --tcp-close). */
function lockedConns(ctx: RestoreContext): Conn[] {
  const out: Conn[] = [];
  const [inv] = ctx.images.read('INVENTORY') as Entry[];
  if (inv?.tcp_close) return out;
  for (const f of ctx.files.values()) {
    const e = f.isk as Entry | undefined;
    if (f.type !== FD_TYPE_INETSK || !e || Number(e.proto) !== IPPROTO.TCP || Number(e.state) !== TCP_STATE.ESTABLISHED) continue;
    const family = Number(e.family) as 2 | 10;
    out.push({ family, src: addrBytes(e.src_addr, family), srcPort: Number(e.src_port), dst: addrBytes(e.dst_addr, family), dstPort: Number(e.dst_port) });
  }
  return out;
}

/**
 * After the task is rebuilt: unlock the network the dump locked (network-unlock action first, as
 * CRIU), then take the rebuilt connections out of repair mode (CRIU: "Unlock network before
 * disabling repair mode on sockets"), so the window probe they send gets through.
 */
export async function finishInetRestore(ctx: RestoreContext, rootPid: number, hook: Hook): Promise<void> {
  const conns = lockedConns(ctx);
  if (conns.length) {
    const [inv] = ctx.images.read('INVENTORY') as Entry[];
    // As in CRIU, a failing network-unlock script does not stop the unlock.
    await hook('network-unlock').catch((e: unknown) => ctx.log.warn(`network-unlock hook failed: ${(e as Error).message}`));
    const method = lockMethodByNumber(inv?.network_lock_method === undefined ? undefined : Number(inv.network_lock_method));
    for (const err of unlockConnections(method, rootPid, conns)) ctx.log.warn(`can't unlock the network: ${err}`);
  }
  const repaired = ctx.inet?.repaired;
  if (!repaired) return;
  for (const [id, fd] of repaired) {
    try {
      setsockoptInt(fd, SOL.TCP, TCP.REPAIR, 0);
    } finally {
      closeFd(fd);
      repaired.delete(id);
    }
  }
}

/** A failed restore: drop cryo's copies (the task dies with its sockets, still in repair mode: no reset). */
export function abortInetRestore(ctx: RestoreContext): void {
  for (const fd of ctx.inet?.repaired.values() ?? []) closeFd(fd);
  ctx.inet?.repaired.clear();
}
