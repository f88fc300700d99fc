// sk_opts_entry: the SOL_SOCKET (and TCP keepalive) options every socket kind carries, read on a
// copy of the task's socket and set again on the socket cryo rebuilds (CRIU's dump_socket_opts /
// restore_socket_opts).
import {
  SO,
  SOCK_BUF_LOCK,
  SOL,
  SO_MORE,
  TCP,
  getsockoptBuf,
  getsockoptInt,
  setsockoptBuf,
  setsockoptInt,
} from '../../native/index.ts';

type Entry = Record<string, any>;

function timeval(fd: number, opt: number): [bigint, bigint] {
  const b = getsockoptBuf(fd, SOL.SOCKET, opt, 16);
  return [b.readBigInt64LE(0), b.readBigInt64LE(8)];
}

/** Reads the options of socket `fd` (cryo's copy); `tcp` adds the TCP keepalive options. */
export function dumpSockOpts(fd: number, tcp: boolean): Entry {
  const int = (opt: number, level: number = SOL.SOCKET): number => getsockoptInt(fd, level, opt);
  const [sndSec, sndUsec] = timeval(fd, SO.SNDTIMEO);
  const [rcvSec, rcvUsec] = timeval(fd, SO.RCVTIMEO);
  const e: Entry = {
    so_sndbuf: int(SO.SNDBUF),
    so_rcvbuf: int(SO.RCVBUF),
    so_snd_tmo_sec: sndSec,
    so_snd_tmo_usec: sndUsec,
    so_rcv_tmo_sec: rcvSec,
    so_rcv_tmo_usec: rcvUsec,
    reuseaddr: int(SO.REUSEADDR) !== 0,
    so_priority: int(SO.PRIORITY),
    so_rcvlowat: int(SO.RCVLOWAT),
    so_mark: int(SO.MARK) >>> 0,
    so_passcred: int(SO.PASSCRED) !== 0,
    so_passsec: int(SO.PASSSEC) !== 0,
    so_dontroute: int(SO.DONTROUTE) !== 0,
    so_no_check: int(SO.NO_CHECK) !== 0,
    so_reuseport: int(SO.REUSEPORT) !== 0,
    so_broadcast: int(SO.BROADCAST) !== 0,
    so_keepalive: int(SO.KEEPALIVE) !== 0,
    so_oobinline: int(SO.OOBINLINE),
    so_buf_lock: int(SO_MORE.BUF_LOCK),
  };
  const linger = getsockoptBuf(fd, SOL.SOCKET, SO.LINGER, 8);
  if (linger.readInt32LE(0)) e.so_linger = linger.readInt32LE(4);
  const dev = getsockoptBuf(fd, SOL.SOCKET, SO_MORE.BINDTODEVICE, 16);
  const name = dev.subarray(0, dev.indexOf(0) < 0 ? dev.length : dev.indexOf(0)).toString();
  if (name) e.so_bound_dev = name;
  if (tcp) {
    e.tcp_keepcnt = int(TCP.KEEPCNT, SOL.TCP);
    e.tcp_keepidle = int(TCP.KEEPIDLE, SOL.TCP);
    e.tcp_keepintvl = int(TCP.KEEPINTVL, SOL.TCP);
  }
  return e;
}

/** Sets the dumped options on socket `fd`. Options the image leaves out keep the kernel's defaults. */
export function restoreSockOpts(fd: number, e: Entry, tcp: boolean): void {
  const set = (opt: number, v: number | boolean | undefined, level: number = SOL.SOCKET): void => {
    if (v !== undefined) setsockoptInt(fd, level, opt, Number(v));
  };
  // The kernel doubles what setsockopt gives it and reports the doubled size: halve it back.
  // Sizes the user never set stay auto-tuned.
  const lock = Number(e.so_buf_lock ?? 0);
  if (lock & SOCK_BUF_LOCK.SND) set(SO.SNDBUFFORCE, Math.floor(Number(e.so_sndbuf) / 2));
  if (lock & SOCK_BUF_LOCK.RCV) set(SO.RCVBUFFORCE, Math.floor(Number(e.so_rcvbuf) / 2));
  if (e.so_buf_lock !== undefined) set(SO_MORE.BUF_LOCK, lock);
  for (const [opt, sec, usec] of [[SO.SNDTIMEO, e.so_snd_tmo_sec, e.so_snd_tmo_usec], [SO.RCVTIMEO, e.so_rcv_tmo_sec, e.so_rcv_tmo_usec]] as const) {
    if (!BigInt(sec ?? 0) && !BigInt(usec ?? 0)) continue;
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(BigInt(sec), 0);
    tv.writeBigInt64LE(BigInt(usec), 8);
    setsockoptBuf(fd, SOL.SOCKET, opt, tv);
  }
  set(SO.REUSEADDR, e.reuseaddr);
  set(SO.REUSEPORT, e.so_reuseport);
  set(SO.PRIORITY, e.so_priority);
  set(SO.RCVLOWAT, e.so_rcvlowat);
  if (e.so_mark) set(SO.MARK, e.so_mark);
  set(SO.PASSCRED, e.so_passcred);
  if (e.so_passsec) set(SO.PASSSEC, e.so_passsec);
  set(SO.DONTROUTE, e.so_dontroute);
  if (e.so_no_check) set(SO.NO_CHECK, e.so_no_check);
  set(SO.BROADCAST, e.so_broadcast);
  set(SO.KEEPALIVE, e.so_keepalive);
  set(SO.OOBINLINE, e.so_oobinline);
  if (e.so_linger !== undefined) {
    const l = Buffer.alloc(8);
    l.writeInt32LE(1, 0);
    l.writeInt32LE(Number(e.so_linger), 4);
    setsockoptBuf(fd, SOL.SOCKET, SO.LINGER, l);
  }
  if (e.so_bound_dev) setsockoptBuf(fd, SOL.SOCKET, SO_MORE.BINDTODEVICE, Buffer.from(`${e.so_bound_dev}\0`));
  if (tcp) {
    set(TCP.KEEPCNT, e.tcp_keepcnt, SOL.TCP);
    set(TCP.KEEPIDLE, e.tcp_keepidle, SOL.TCP);
    set(TCP.KEEPINTVL, e.tcp_keepintvl, SOL.TCP);
  }
}
