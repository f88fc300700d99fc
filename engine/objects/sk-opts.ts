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

/** getsockopt of an option this kind of socket may not have (EOPNOTSUPP, ENOPROTOOPT): undefined then. */
function maybe(fd: number, level: number, opt: number): number | undefined {
  try {
    return getsockoptInt(fd, level, opt);
  } catch (e) {
    if (['ENOTSUP', 'EOPNOTSUPP', 'ENOPROTOOPT'].includes((e as { code?: string }).code ?? '')) return undefined;
    throw e;
  }
}

/** Reads the options of socket `fd` (cryo's copy); `tcp` adds the TCP keepalive options. */
export function dumpSockOpts(fd: number, tcp: boolean): Entry {
  const [sndSec, sndUsec] = timeval(fd, SO.SNDTIMEO);
  const [rcvSec, rcvUsec] = timeval(fd, SO.RCVTIMEO);
  const e: Entry = {
    so_sndbuf: getsockoptInt(fd, SOL.SOCKET, SO.SNDBUF),
    so_rcvbuf: getsockoptInt(fd, SOL.SOCKET, SO.RCVBUF),
    so_snd_tmo_sec: sndSec,
    so_snd_tmo_usec: sndUsec,
    so_rcv_tmo_sec: rcvSec,
    so_rcv_tmo_usec: rcvUsec,
  };
  const flag = (name: string, opt: number): void => {
    const v = maybe(fd, SOL.SOCKET, opt);
    if (v !== undefined) e[name] = v !== 0;
  };
  const num = (name: string, opt: number, level: number = SOL.SOCKET): void => {
    const v = maybe(fd, level, opt);
    if (v !== undefined) e[name] = v >>> 0;
  };
  flag('reuseaddr', SO.REUSEADDR);
  num('so_priority', SO.PRIORITY);
  num('so_rcvlowat', SO.RCVLOWAT);
  num('so_mark', SO.MARK);
  flag('so_passcred', SO.PASSCRED);
  flag('so_passsec', SO.PASSSEC);
  flag('so_dontroute', SO.DONTROUTE);
  flag('so_no_check', SO.NO_CHECK);
  flag('so_reuseport', SO.REUSEPORT);
  flag('so_broadcast', SO.BROADCAST);
  flag('so_keepalive', SO.KEEPALIVE);
  num('so_oobinline', SO.OOBINLINE);
  num('so_buf_lock', SO_MORE.BUF_LOCK);
  const linger = getsockoptBuf(fd, SOL.SOCKET, SO.LINGER, 8);
  if (linger.readInt32LE(0)) e.so_linger = linger.readInt32LE(4);
  const dev = getsockoptBuf(fd, SOL.SOCKET, SO_MORE.BINDTODEVICE, 16);
  const name = dev.subarray(0, dev.indexOf(0) < 0 ? dev.length : dev.indexOf(0)).toString();
  if (name) e.so_bound_dev = name;
  if (tcp) {
    num('tcp_keepcnt', TCP.KEEPCNT, SOL.TCP);
    num('tcp_keepidle', TCP.KEEPIDLE, SOL.TCP);
    num('tcp_keepintvl', TCP.KEEPINTVL, SOL.TCP);
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
  if (e.so_passcred) set(SO.PASSCRED, e.so_passcred);
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
