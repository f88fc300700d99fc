// Asks the kernel about unix sockets over NETLINK_SOCK_DIAG (native/inet.ts sends and receives;
// the parsing is in unix-diag.ts).
import { SyscallError, sockDiag } from '../../native/index.ts';
import { NLMSG_HDRLEN } from './netlink.ts';
import { parseUnixDiagMsg, unixDiagRequest, type UnixDiag } from './unix-diag.ts';

/** One unix socket by inode, in cryo's network namespace; undefined when there is none. */
export function unixDiagByIno(ino: number): UnixDiag | undefined {
  let msgs: Buffer[];
  try {
    msgs = sockDiag(unixDiagRequest(1, ino));
  } catch (e) {
    if (e instanceof SyscallError && e.code === 'ENOENT') return undefined;
    throw e;
  }
  return msgs.map((m) => parseUnixDiagMsg(m.subarray(NLMSG_HDRLEN))).find((s) => s.ino === ino);
}
