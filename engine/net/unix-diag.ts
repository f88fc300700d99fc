// NETLINK_SOCK_DIAG for AF_UNIX (linux/unix_diag.h): the request cryo sends and a pure parser of
// the kernel's replies. What each socket is bound to, who its peer is, its state, queue lengths,
// pending connections and shutdown bits: facts getsockopt can't give from outside.
import { RuntimeError } from '../../errors.ts';

import { NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLM_F_DUMP, NLM_F_REQUEST, SOCK_DIAG_BY_FAMILY, align4, sockDiagRequest } from './netlink.ts';

export { SOCK_DIAG_BY_FAMILY };
const AF_UNIX = 1;

const parseError = (what: string): RuntimeError => new RuntimeError(`unix_diag reply: ${what}`);

/** udiag_show bits. */
export const UDIAG_SHOW = { NAME: 1, VFS: 2, PEER: 4, ICONS: 8, RQLEN: 0x10, MEMINFO: 0x20, UID: 0x40 } as const;
const ATTR = { NAME: 0, VFS: 1, PEER: 2, ICONS: 3, RQLEN: 4, MEMINFO: 5, SHUTDOWN: 6, UID: 7 } as const;

/** Socket states as the kernel names them (TCP_*): the only three a unix socket is usually in. */
export const UNIX_STATE = { ESTABLISHED: 1, SYN_SENT: 2, CLOSE: 7, LISTEN: 10 } as const;

export interface UnixDiag {
  readonly type: number;
  readonly state: number;
  readonly ino: number;
  /** sun_path bytes (abstract names start with \0); undefined when unbound. */
  readonly name?: Buffer;
  /** The bound socket file's inode and device (kernel encoding), for path names. */
  readonly vfs?: { readonly ino: number; readonly dev: number };
  /** Peer's inode; 0 when the peer was closed. undefined when not connected. */
  readonly peer?: number;
  /** Listening sockets: inodes of connections not accepted yet. */
  readonly icons?: readonly number[];
  /** Listening: pending connections and backlog; else bytes queued to read (dgram: the first datagram) and bytes in flight. */
  readonly rqlen?: { readonly rqueue: number; readonly wqueue: number };
  /** sk_shutdown: 1 RCV_SHUTDOWN, 2 SEND_SHUTDOWN. */
  readonly shutdown: number;
  readonly uid?: number;
}

const ALL_SHOW = UDIAG_SHOW.NAME | UDIAG_SHOW.VFS | UDIAG_SHOW.PEER | UDIAG_SHOW.ICONS | UDIAG_SHOW.RQLEN | UDIAG_SHOW.UID;

/**
 * A SOCK_DIAG_BY_FAMILY request: one socket by inode (the kernel answers with its message or an
 * error), or with `ino` undefined every unix socket of the network namespace (a dump).
 */
export function unixDiagRequest(seq: number, ino?: number, show: number = ALL_SHOW): Buffer {
  const b = sockDiagRequest(24, NLM_F_REQUEST | (ino === undefined ? NLM_F_DUMP : 0), seq);
  // struct unix_diag_req
  b.writeUInt8(AF_UNIX, 16);
  b.writeUInt32LE(0xffffffff, 20); // udiag_states: all
  b.writeUInt32LE(ino ?? 0, 24);
  b.writeUInt32LE(show, 28);
  b.writeUInt32LE(0xffffffff, 32); // cookie: none (INET_DIAG_NOCOOKIE)
  b.writeUInt32LE(0xffffffff, 36);
  return b;
}

export type DiagReply =
  | { readonly kind: 'sockets'; readonly sockets: UnixDiag[]; readonly done: boolean }
  | { readonly kind: 'error'; readonly errno: number };

/** Parses the netlink messages of one recv(): socket messages, NLMSG_DONE, or NLMSG_ERROR. */
export function parseUnixDiagReply(buf: Buffer): DiagReply {
  const sockets: UnixDiag[] = [];
  let done = false;
  for (let off = 0; off + NLMSG_HDRLEN <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    const type = buf.readUInt16LE(off + 4);
    if (len < NLMSG_HDRLEN || off + len > buf.length) throw parseError(`netlink message of ${len} bytes at ${off} overruns the ${buf.length}-byte reply`);
    const body = buf.subarray(off + NLMSG_HDRLEN, off + len);
    if (type === NLMSG_ERROR) {
      const err = body.readInt32LE(0);
      if (err !== 0) return { kind: 'error', errno: -err };
    } else if (type === NLMSG_DONE) {
      done = true;
    } else if (type === SOCK_DIAG_BY_FAMILY) {
      sockets.push(parseUnixDiagMsg(body));
    }
    off += align4(len);
  }
  return { kind: 'sockets', sockets, done };
}

/** struct unix_diag_msg followed by its attributes. */
export function parseUnixDiagMsg(b: Buffer): UnixDiag {
  if (b.length < 16) throw parseError(`unix_diag_msg of ${b.length} bytes`);
  const out: { -readonly [K in keyof UnixDiag]: UnixDiag[K] } = {
    type: b.readUInt8(1),
    state: b.readUInt8(2),
    ino: b.readUInt32LE(4),
    shutdown: 0,
  };
  for (let off = 16; off + 4 <= b.length; ) {
    const len = b.readUInt16LE(off);
    const type = b.readUInt16LE(off + 2);
    if (len < 4 || off + len > b.length) throw parseError(`attribute ${type} of ${len} bytes at ${off} overruns the message`);
    const v = b.subarray(off + 4, off + len);
    switch (type) {
      case ATTR.NAME:
        out.name = Buffer.from(v);
        break;
      case ATTR.VFS:
        out.vfs = { ino: v.readUInt32LE(0), dev: v.readUInt32LE(4) };
        break;
      case ATTR.PEER:
        out.peer = v.readUInt32LE(0);
        break;
      case ATTR.ICONS: {
        const icons: number[] = [];
        for (let i = 0; i + 4 <= v.length; i += 4) icons.push(v.readUInt32LE(i));
        out.icons = icons;
        break;
      }
      case ATTR.RQLEN:
        out.rqlen = { rqueue: v.readUInt32LE(0), wqueue: v.readUInt32LE(4) };
        break;
      case ATTR.SHUTDOWN:
        out.shutdown = v.readUInt8(0);
        break;
      case ATTR.UID:
        out.uid = v.readUInt32LE(0);
        break;
      default:
        break; // MEMINFO and newer attributes: not needed
    }
    off += align4(len);
  }
  return out;
}
