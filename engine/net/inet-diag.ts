// NETLINK_SOCK_DIAG for IPv4/IPv6 sockets: the inet_diag_req_v2 request cryo sends and the
// inet_diag_msg replies it gets back (CRIU collects its sockets the same way). Pure: bytes in,
// facts out; native/inet.ts sends and receives.

import { NLMSG_HDRLEN, NLM_F_DUMP, NLM_F_REQUEST, sockDiagRequest } from './netlink.ts';

const INET_DIAG_MSG_LEN = 72;
const INET_DIAG_SHUTDOWN = 8;

/** One socket as inet_diag reports it. */
export interface InetDiag {
  readonly family: number;
  /** Kernel TCP state numbers (UDP: 7 unconnected, 1 connected). */
  readonly state: number;
  readonly srcPort: number;
  readonly dstPort: number;
  /** 4 (IPv4) or 16 (IPv6) address bytes, network order. */
  readonly src: Buffer;
  readonly dst: Buffer;
  /** LISTEN: connections waiting in the accept queue; else bytes in the receive queue. */
  readonly rqueue: number;
  /** LISTEN: the backlog given to listen(); else bytes in the send queue. */
  readonly wqueue: number;
  readonly uid: number;
  readonly inode: number;
  /** sk_shutdown: 1 = receive side, 2 = send side. */
  readonly shutdown: number;
}

/** A dump request for every socket of one family and protocol, in every state. */
export function inetDiagRequest(family: number, protocol: number, seq = 1): Buffer {
  const b = sockDiagRequest(56, NLM_F_REQUEST | NLM_F_DUMP, seq);
  b.writeUInt8(family, 16);
  b.writeUInt8(protocol, 17);
  b.writeUInt32LE(0xffffffff, 20); // states: all
  // id: all zero except the cookie, INET_DIAG_NOCOOKIE
  b.writeUInt32LE(0xffffffff, 16 + 8 + 40);
  b.writeUInt32LE(0xffffffff, 16 + 8 + 44);
  return b;
}

/** Parses one reply message (nlmsghdr + inet_diag_msg + attributes). */
export function parseInetDiag(msg: Buffer): InetDiag {
  if (msg.length < NLMSG_HDRLEN + INET_DIAG_MSG_LEN) throw new RangeError(`inet_diag reply of ${msg.length} bytes is too short`);
  const m = msg.subarray(NLMSG_HDRLEN);
  const family = m.readUInt8(0);
  const alen = family === 10 ? 16 : 4;
  let shutdown = 0;
  for (let off = INET_DIAG_MSG_LEN; off + 4 <= m.length; ) {
    const len = m.readUInt16LE(off);
    const type = m.readUInt16LE(off + 2);
    if (len < 4) break;
    if (type === INET_DIAG_SHUTDOWN && len >= 5) shutdown = m.readUInt8(off + 4);
    off += (len + 3) & ~3;
  }
  return {
    family,
    state: m.readUInt8(1),
    srcPort: m.readUInt16BE(4),
    dstPort: m.readUInt16BE(6),
    src: Buffer.from(m.subarray(8, 8 + alen)),
    dst: Buffer.from(m.subarray(24, 24 + alen)),
    rqueue: m.readUInt32LE(56),
    wqueue: m.readUInt32LE(60),
    uid: m.readUInt32LE(64),
    inode: m.readUInt32LE(68),
    shutdown,
  };
}
