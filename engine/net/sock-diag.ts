// Asks the kernel about unix sockets over NETLINK_SOCK_DIAG (the parsing is in unix-diag.ts).
import { RuntimeError } from '../../errors.ts';
import { AF, SOCK, closeFd, recvFrom, sendTo, socket } from '../../native/index.ts';
import { NETLINK_SOCK_DIAG, parseUnixDiagReply, unixDiagRequest, type UnixDiag } from './unix-diag.ts';

/** One unix socket by inode, in cryo's network namespace; undefined when there is none. */
export function unixDiagByIno(ino: number): UnixDiag | undefined {
  const nl = socket(AF.NETLINK, SOCK.DGRAM | SOCK.CLOEXEC, NETLINK_SOCK_DIAG);
  try {
    sendTo(nl, unixDiagRequest(1, ino));
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const { n } = recvFrom(nl, buf);
      const r = parseUnixDiagReply(buf.subarray(0, n));
      if (r.kind === 'error') {
        if (r.errno === 2 /* ENOENT */) return undefined;
        throw new RuntimeError(`unix_diag of socket ${ino}: errno ${r.errno}`);
      }
      const hit = r.sockets.find((s) => s.ino === ino);
      if (hit) return hit;
      if (r.done || n === 0) return undefined;
    }
  } finally {
    closeFd(nl);
  }
}
