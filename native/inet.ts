// IPv4/IPv6 socket facts cryo asks the kernel for in its own process: TCP repair options, queue
// sizes (ioctl), and NETLINK_SOCK_DIAG queries (the bytes go out and come back as they are; the
// sock_diag layouts are encoded and parsed in engine/net/).
import { SyscallError, check } from './check.ts';
import { NR } from './constants.ts';
import { syscallArgs } from './libc.ts';
import { closeFd } from './proc.ts';
import { AF, SOCK, recvFrom, sendTo, socket } from './socket.ts';

export const IPPROTO = { IP: 0, TCP: 6, UDP: 17, IPV6: 41 } as const;
export const IPV6_V6ONLY = 26;
export const IP_FREEBIND = 15;

/** <linux/tcp.h> socket options (level SOL_TCP) and repair values. */
export const TCP = {
  NODELAY: 1, MAXSEG: 2, CORK: 3, KEEPIDLE: 4, KEEPINTVL: 5, KEEPCNT: 6, INFO: 11,
  REPAIR: 19, REPAIR_QUEUE: 20, QUEUE_SEQ: 21, REPAIR_OPTIONS: 22, TIMESTAMP: 24, REPAIR_WINDOW: 29,
} as const;
export const TCP_QUEUE = { RECV: 1, SEND: 2 } as const;
/** TCP options for TCP_REPAIR_OPTIONS (struct tcp_repair_opt { u32 code, val }). */
export const TCPOPT = { MAXSEG: 2, WINDOW: 3, SACK_PERM: 4, TIMESTAMP: 8 } as const;
/** tcp_info.tcpi_options bits. */
export const TCPI_OPT = { TIMESTAMPS: 1, SACK: 2, WSCALE: 4, ECN: 8 } as const;
/** Kernel TCP states (include/net/tcp_states.h). */
export const TCP_STATE = { ESTABLISHED: 1, SYN_SENT: 2, SYN_RECV: 3, FIN_WAIT1: 4, FIN_WAIT2: 5, TIME_WAIT: 6, CLOSE: 7, CLOSE_WAIT: 8, LAST_ACK: 9, LISTEN: 10, CLOSING: 11 } as const;
/** ioctls on sockets: bytes in the receive queue, in the send queue, unsent in the send queue. */
export const SIOC = { INQ: 0x541b, OUTQ: 0x5411, OUTQNSD: 0x894b } as const;

/** ioctl(fd, req, &int) → int. */
export function ioctlInt(fd: number, req: number, what: string): number {
  const b = Buffer.alloc(4);
  check(syscallArgs(NR.ioctl, fd, req, b), 'ioctl', `fd ${fd}, ${what}`);
  return b.readInt32LE(0);
}

export const NETLINK_SOCK_DIAG = 4;
const NLMSG = { ERROR: 2, DONE: 3 } as const;

/**
 * Sends one NETLINK_SOCK_DIAG request (a complete nlmsghdr + body) and returns every reply
 * message (nlmsghdr included) up to NLMSG_DONE; an NLMSG_ERROR reply throws with its errno.
 */
export function sockDiag(request: Buffer): Buffer[] {
  const fd = socket(AF.NETLINK, SOCK.DGRAM | SOCK.CLOEXEC, NETLINK_SOCK_DIAG);
  try {
    sendTo(fd, request, 0, undefined);
    const out: Buffer[] = [];
    const buf = Buffer.alloc(64 * 1024);
    // A request for one socket (no NLM_F_DUMP) is answered by one message, with no NLMSG_DONE.
    const dump = (request.readUInt16LE(6) & 0x300) !== 0;
    for (;;) {
      const { n } = recvFrom(fd, buf);
      for (let off = 0; off + 16 <= n; ) {
        const len = buf.readUInt32LE(off);
        const type = buf.readUInt16LE(off + 4);
        if (len < 16 || off + len > n) return out;
        if (type === NLMSG.DONE) return out;
        if (type === NLMSG.ERROR) {
          const errno = -buf.readInt32LE(off + 16);
          if (errno === 0) return out;
          throw new SyscallError('sock_diag', errno, 'NLMSG_ERROR');
        }
        out.push(Buffer.from(buf.subarray(off, off + len)));
        off += (len + 3) & ~3;
      }
      if (!dump) return out;
    }
  } finally {
    closeFd(fd);
  }
}

/** SOL_SOCKET options not in socket.ts's SO table. */
export const SO_MORE = { BINDTODEVICE: 25, BUF_LOCK: 72 } as const;
/** SO_BUF_LOCK bits: the user set SO_SNDBUF / SO_RCVBUF (the kernel stops auto-tuning them). */
export const SOCK_BUF_LOCK = { SND: 1, RCV: 2 } as const;
