// Socket calls cryo makes in its own process: on copies of a task's sockets (taken with
// pidfd_getfd) while dumping, and to build sockets that restore then hands to the task.
// Struct layouts (sockaddr_un, sockaddr_in, sockaddr_in6) live here; decisions do not.
import { check } from './check.ts';
import { NR } from './constants.ts';
import { addressOf, syscallArgs } from './libc.ts';

export const AF = { UNIX: 1, INET: 2, INET6: 10, NETLINK: 16 } as const;
export const SOCK = { STREAM: 1, DGRAM: 2, RAW: 3, SEQPACKET: 5, NONBLOCK: 0o4000, CLOEXEC: 0o2000000 } as const;
export const SOL = { SOCKET: 1, IP: 0, IPV6: 41, TCP: 6 } as const;
export const SO = {
  DEBUG: 1, REUSEADDR: 2, TYPE: 3, ERROR: 4, DONTROUTE: 5, BROADCAST: 6, SNDBUF: 7, RCVBUF: 8, KEEPALIVE: 9,
  OOBINLINE: 10, NO_CHECK: 11, PRIORITY: 12, LINGER: 13, PASSCRED: 16, PEERCRED: 17, RCVLOWAT: 18, SNDLOWAT: 19,
  RCVTIMEO: 20, SNDTIMEO: 21, SNDBUFFORCE: 32, RCVBUFFORCE: 33, ACCEPTCONN: 30, PEEK_OFF: 42, DOMAIN: 39,
  PROTOCOL: 38, REUSEPORT: 15, MARK: 36, PASSSEC: 34,
} as const;
export const MSG = { OOB: 1, PEEK: 2, DONTROUTE: 4, TRUNC: 0x20, CTRUNC: 0x8, DONTWAIT: 0x40, NOSIGNAL: 0x4000, CMSG_CLOEXEC: 0x40000000 } as const;
/** cmsg types at SOL_SOCKET. */
export const SCM = { RIGHTS: 1, CREDENTIALS: 2 } as const;
export const SHUT = { RD: 0, WR: 1, RDWR: 2 } as const;

/** A socket address as cryo handles it. */
export type SockAddr =
  | { family: 1; path: Buffer } // AF_UNIX; path bytes as in sun_path (abstract names start with \0); empty = unnamed
  | { family: 2 | 10; addr: Buffer; port: number; flowinfo?: number; scopeId?: number } // 4 or 16 address bytes
  | { family: 16; portid: number; groups: number }; // AF_NETLINK: nl_pid, nl_groups (the first 32 groups)

const SUN_PATH_OFF = 2;
const SUN_PATH_MAX = 108;

export function encodeSockAddr(a: SockAddr): Buffer {
  if (a.family === AF.UNIX) {
    if (a.path.length > SUN_PATH_MAX) throw new RangeError(`unix socket path of ${a.path.length} bytes exceeds ${SUN_PATH_MAX}`);
    const b = Buffer.alloc(SUN_PATH_OFF + a.path.length);
    b.writeUInt16LE(AF.UNIX, 0);
    a.path.copy(b, SUN_PATH_OFF);
    return b;
  }
  if (a.family === AF.NETLINK) {
    const b = Buffer.alloc(12);
    b.writeUInt16LE(AF.NETLINK, 0);
    b.writeUInt32LE(a.portid >>> 0, 4);
    b.writeUInt32LE(a.groups >>> 0, 8);
    return b;
  }
  if (a.family === AF.INET) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF.INET, 0);
    b.writeUInt16BE(a.port, 2);
    a.addr.copy(b, 4, 0, 4);
    return b;
  }
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF.INET6, 0);
  b.writeUInt16BE(a.port, 2);
  b.writeUInt32BE(a.flowinfo ?? 0, 4);
  a.addr.copy(b, 8, 0, 16);
  b.writeUInt32LE(a.scopeId ?? 0, 24);
  return b;
}

/** Decodes `len` bytes of a sockaddr the kernel filled in. */
export function decodeSockAddr(b: Buffer, len: number): SockAddr {
  const family = len >= 2 ? b.readUInt16LE(0) : AF.UNIX;
  if (family === AF.UNIX) return { family: AF.UNIX, path: Buffer.from(b.subarray(SUN_PATH_OFF, Math.max(SUN_PATH_OFF, len))) };
  if (family === AF.INET) return { family: AF.INET, port: b.readUInt16BE(2), addr: Buffer.from(b.subarray(4, 8)) };
  if (family === AF.NETLINK) return { family: AF.NETLINK, portid: b.readUInt32LE(4), groups: b.readUInt32LE(8) };
  if (family === AF.INET6) {
    return { family: AF.INET6, port: b.readUInt16BE(2), flowinfo: b.readUInt32BE(4), addr: Buffer.from(b.subarray(8, 24)), scopeId: b.readUInt32LE(24) };
  }
  throw new RangeError(`unknown address family ${family}`);
}

export function socket(family: number, type: number, protocol = 0): number {
  return check(syscallArgs(NR.socket, family, type, protocol), 'socket', `${family}, ${type}, ${protocol}`);
}

export function socketpair(family: number, type: number, protocol = 0): [number, number] {
  const fds = Buffer.alloc(8);
  check(syscallArgs(NR.socketpair, family, type, protocol, fds), 'socketpair', `${family}, ${type}`);
  return [fds.readInt32LE(0), fds.readInt32LE(4)];
}

export function bind(fd: number, a: SockAddr): void {
  const b = encodeSockAddr(a);
  check(syscallArgs(NR.bind, fd, b, b.length), 'bind', `fd ${fd}`);
}

export function listen(fd: number, backlog: number): void {
  check(syscallArgs(NR.listen, fd, backlog), 'listen', `fd ${fd}, ${backlog}`);
}

/** connect(2); a non-blocking connect in progress (EINPROGRESS) is returned as false. */
export function connect(fd: number, a: SockAddr): boolean {
  const b = encodeSockAddr(a);
  const rc = syscallArgs(NR.connect, fd, b, b.length);
  if (rc === -1) {
    try {
      check(rc, 'connect', `fd ${fd}`);
    } catch (e) {
      if ((e as { code?: string }).code === 'EINPROGRESS') return false;
      throw e;
    }
  }
  return true;
}

export function accept(fd: number, flags = 0): number {
  return check(syscallArgs(NR.accept4, fd, null, null, flags), 'accept4', `fd ${fd}`);
}

function nameCall(nr: number, call: string, fd: number): SockAddr {
  const b = Buffer.alloc(128);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(b.length, 0);
  check(syscallArgs(nr, fd, b, len), call, `fd ${fd}`);
  return decodeSockAddr(b, len.readUInt32LE(0));
}
export const getsockname = (fd: number): SockAddr => nameCall(NR.getsockname, 'getsockname', fd);
export const getpeername = (fd: number): SockAddr => nameCall(NR.getpeername, 'getpeername', fd);

/** getsockopt into a buffer of `size` bytes; returns the bytes the kernel wrote. */
export function getsockoptBuf(fd: number, level: number, opt: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(size, 0);
  check(syscallArgs(NR.getsockopt, fd, level, opt, b, len), 'getsockopt', `fd ${fd}, ${level}, ${opt}`);
  return b.subarray(0, len.readUInt32LE(0));
}
export function getsockoptInt(fd: number, level: number, opt: number): number {
  return getsockoptBuf(fd, level, opt, 4).readInt32LE(0);
}
export function setsockoptBuf(fd: number, level: number, opt: number, value: Buffer): void {
  check(syscallArgs(NR.setsockopt, fd, level, opt, value, value.length), 'setsockopt', `fd ${fd}, ${level}, ${opt}`);
}
export function setsockoptInt(fd: number, level: number, opt: number, value: number): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  setsockoptBuf(fd, level, opt, b);
}

export function shutdown(fd: number, how: number): void {
  check(syscallArgs(NR.shutdown, fd, how), 'shutdown', `fd ${fd}, ${how}`);
}

/** send(2)/sendto(2); returns bytes sent. */
export function sendTo(fd: number, data: Uint8Array, flags = 0, to?: SockAddr): number {
  const a = to ? encodeSockAddr(to) : null;
  return check(syscallArgs(NR.sendto, fd, data, data.byteLength, flags, a, a?.length ?? 0), 'sendto', `fd ${fd}, ${data.byteLength} bytes`);
}

/** recv(2)/recvfrom(2) into `buf`; returns the byte count (with MSG_TRUNC on datagrams: the real length). */
export function recvFrom(fd: number, buf: Uint8Array, flags = 0): { n: number; from?: SockAddr } {
  const a = Buffer.alloc(128);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(a.length, 0);
  const n = check(syscallArgs(NR.recvfrom, fd, buf, buf.byteLength, flags, a, len), 'recvfrom', `fd ${fd}`);
  const l = len.readUInt32LE(0);
  // Only the families SockAddr describes (a netlink reply comes from AF_NETLINK).
  const known = l >= 2 && [AF.UNIX, AF.INET, AF.INET6].includes(a.readUInt16LE(0) as 1);
  return { n, from: known ? decodeSockAddr(a, l) : undefined };
}

/** What recvmsg(2) gave: the byte count (the real length with MSG_TRUNC), the control bytes and the msg_flags. */
export interface RecvMsg {
  readonly n: number;
  readonly control: Buffer;
  readonly flags: number;
}

// struct msghdr (56 bytes): name, namelen, iov, iovlen, control, controllen, flags.
const MSGHDR_SIZE = 56;

/**
 * A struct msghdr without a name, with `iovLen` iovecs at `iov` and `controlLen` control bytes at
 * `control` — addresses in cryo or, for a msghdr written into a task, in the task.
 */
export function encodeMsghdr(iov: bigint, iovLen: number, control: bigint, controlLen: number): Buffer {
  const hdr = Buffer.alloc(MSGHDR_SIZE);
  hdr.writeBigUInt64LE(iov, 16);
  hdr.writeBigUInt64LE(BigInt(iovLen), 24);
  hdr.writeBigUInt64LE(control, 32);
  hdr.writeBigUInt64LE(BigInt(controlLen), 40);
  return hdr;
}

/** msg_controllen of a msghdr after recvmsg: the control bytes received. */
export function msghdrControlLen(hdr: Buffer): number {
  return Number(hdr.readBigUInt64LE(40));
}

/** recvmsg(2) into `buf` with a control buffer of `controlSize` bytes (no source address). */
export function recvMsg(fd: number, buf: Uint8Array, controlSize: number, flags = 0): RecvMsg {
  const control = Buffer.alloc(controlSize);
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(buf.byteLength ? addressOf(buf) : 0n, 0);
  iov.writeBigUInt64LE(BigInt(buf.byteLength), 8);
  const hdr = encodeMsghdr(addressOf(iov), 1, controlSize ? addressOf(control) : 0n, controlSize);
  const n = check(syscallArgs(NR.recvmsg, fd, hdr, flags), 'recvmsg', `fd ${fd}`);
  return { n, control: control.subarray(0, msghdrControlLen(hdr)), flags: hdr.readInt32LE(48) };
}

/** One control message: level, type and data (struct cmsghdr: u64 len, i32 level, i32 type; data aligned to 8). */
export interface Cmsg {
  readonly level: number;
  readonly type: number;
  readonly data: Buffer;
}

export function parseCmsgs(control: Buffer): Cmsg[] {
  const out: Cmsg[] = [];
  for (let off = 0; off + 16 <= control.length; ) {
    const len = Number(control.readBigUInt64LE(off));
    if (len < 16 || off + len > control.length) break;
    out.push({ level: control.readInt32LE(off + 8), type: control.readInt32LE(off + 12), data: control.subarray(off + 16, off + len) });
    off += (len + 7) & ~7;
  }
  return out;
}

/** The fds of SCM_RIGHTS messages among `cmsgs`. */
export function scmRights(cmsgs: readonly Cmsg[]): number[] {
  const fds: number[] = [];
  for (const c of cmsgs) {
    if (c.level !== SOL.SOCKET || c.type !== SCM.RIGHTS) continue;
    for (let i = 0; i + 4 <= c.data.length; i += 4) fds.push(c.data.readInt32LE(i));
  }
  return fds;
}

/** sendmsg(2) of one byte carrying `fds` (SCM_RIGHTS): how cryo hands a file to a task it can't otherwise give one to. */
export function sendFds(fd: number, fds: readonly number[]): void {
  const byte = Buffer.alloc(1);
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(addressOf(byte), 0);
  iov.writeBigUInt64LE(1n, 8);
  const control = Buffer.alloc(16 + ((fds.length * 4 + 7) & ~7));
  control.writeBigUInt64LE(BigInt(16 + fds.length * 4), 0);
  control.writeInt32LE(SOL.SOCKET, 8);
  control.writeInt32LE(SCM.RIGHTS, 12);
  fds.forEach((f, i) => control.writeInt32LE(f, 16 + i * 4));
  const hdr = encodeMsghdr(addressOf(iov), 1, addressOf(control), control.length);
  check(syscallArgs(NR.sendmsg, fd, hdr, MSG.NOSIGNAL), 'sendmsg', `fd ${fd}, ${fds.length} fd(s)`);
}
