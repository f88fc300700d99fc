// The netlink framing shared by the sock_diag requests and parsers (linux/netlink.h).
export const SOCK_DIAG_BY_FAMILY = 20;
export const NLM_F_REQUEST = 1;
export const NLM_F_DUMP = 0x300;
export const NLMSG_HDRLEN = 16;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const align4 = (n: number): number => (n + 3) & ~3;

/** A request: nlmsghdr (length, SOCK_DIAG_BY_FAMILY, flags, seq) followed by `bodyLen` zero bytes to fill in. */
export function sockDiagRequest(bodyLen: number, flags: number, seq = 1): Buffer {
  const b = Buffer.alloc(NLMSG_HDRLEN + bodyLen);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  return b;
}
