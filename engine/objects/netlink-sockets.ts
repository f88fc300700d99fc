// AF_NETLINK sockets (files.img NETLINKSK entries: netlink_sk_entry), as CRIU's sk-netlink.c.
// Dump: a pidfd_getfd copy of the task's socket says its type, protocol, options, the port id it
// is bound to (getsockname), every multicast group it joined (NETLINK_LIST_MEMBERSHIPS) and where
// it is connected (getpeername). Restore builds it in cryo: bound to the same port id, the same
// groups joined, connected again, and hands it to the task. Messages queued to it are not kept
// (CRIU keeps none either): a request in flight gets no answer, so the task must ask again.
import { F, O, SO, SOL, bind, closeFd, connect, fcntl, getsockname, getpeername, getsockoptBuf, getsockoptInt, ioctlInt, setsockoptInt, SIOC, socket, SOCK } from '../../native/index.ts';
import { RuntimeError } from '../../errors.ts';
import { FOWN, O_NONBLOCK, withOwnCopy, type Entry, type FdKind } from './fd-kind.ts';
import { dumpSockOpts, restoreSockOpts } from './sk-opts.ts';

const AF_NETLINK = 16;
const SOL_NETLINK = 270;
const NETLINK_ADD_MEMBERSHIP = 1;
const NETLINK_LIST_MEMBERSHIPS = 9;
/** fd_types NETLINKSK. */
const FD_TYPE_NETLINKSK = 13;
/** netlink_sk_entry.state: connected to a port or group (CRIU's NETLINK_CONNECTED). */
const NETLINK_CONNECTED = 1;

/** The groups joined, as the bitmap words NETLINK_LIST_MEMBERSHIPS gives, without trailing zero words. */
export function groupWords(bitmap: Buffer): number[] {
  const words: number[] = [];
  for (let i = 0; i + 4 <= bitmap.length; i += 4) words.push(bitmap.readUInt32LE(i));
  while (words.length && words[words.length - 1] === 0) words.pop();
  return words;
}

/** Group numbers (1-based, as NETLINK_ADD_MEMBERSHIP takes them) in a bitmap of 32-bit words. */
export function groupsOf(words: readonly number[]): number[] {
  const groups: number[] = [];
  words.forEach((w, i) => {
    for (let bit = 0; bit < 32; bit++) if ((w >>> bit) & 1) groups.push(i * 32 + bit + 1);
  });
  return groups;
}

function isNetlink(f: { link: string; pid: number; fd: number }): boolean {
  if (!f.link.startsWith('socket:[')) return false;
  return withOwnCopy(f.pid, f.fd, (own) => getsockoptInt(own, SOL.SOCKET, SO.DOMAIN)) === AF_NETLINK;
}

export const netlinkSocketKind: FdKind = {
  name: 'netlink socket',
  type: FD_TYPE_NETLINKSK,
  matches: isNetlink,
  dump(ctx, f) {
    const ino = Number(f.link.slice('socket:['.length, -1));
    return withOwnCopy(f.pid, f.fd, (own) => {
      const me = getsockname(own);
      const peer = getpeername(own);
      if (me.family !== AF_NETLINK || peer.family !== AF_NETLINK) throw new RuntimeError(`${f.pid}: fd ${f.fd}: not a netlink address`);
      let queued = 0;
      try {
        queued = ioctlInt(own, SIOC.INQ, 'SIOCINQ');
      } catch {
        /* older kernels: netlink has no SIOCINQ */
      }
      if (queued > 0) ctx.log.warn(`${f.pid}: fd ${f.fd}: ${queued} bytes of netlink messages queued to it are not kept (as with CRIU)`);
      const id = ctx.fileIds.next();
      const connected = peer.portid !== 0 || peer.groups !== 0;
      const nlsk: Entry = {
        id,
        ino,
        protocol: getsockoptInt(own, SOL.SOCKET, SO.PROTOCOL),
        state: connected ? NETLINK_CONNECTED : 0,
        flags: f.info.flags & ~O.CLOEXEC,
        portid: me.portid,
        groups: groupWords(getsockoptBuf(own, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 128)),
        dst_portid: peer.portid,
        dst_group: peer.groups,
        fown: FOWN,
        opts: dumpSockOpts(own, false),
      };
      // The socket type is not in netlink_sk_entry: CRIU restores SOCK_RAW, which netlink treats as SOCK_DGRAM.
      ctx.log.debug(`${f.pid}: fd ${f.fd}: netlink socket (protocol ${nlsk.protocol}) port ${me.portid}, groups ${groupsOf(nlsk.groups as number[]).join(',') || 'none'}`);
      return { type: FD_TYPE_NETLINKSK, id, nlsk };
    });
  },
  open(ctx, file) {
    const e = file.nlsk as Entry | undefined;
    if (!e) throw new RuntimeError(`files.img: NETLINKSK entry ${file.id} has no nlsk`);
    const fd = socket(AF_NETLINK, SOCK.RAW | SOCK.CLOEXEC, Number(e.protocol));
    try {
      restoreSockOpts(fd, e.opts as Entry, false);
      const portid = Number(e.portid);
      try {
        bind(fd, { family: AF_NETLINK, portid, groups: 0 });
      } catch (err) {
        if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
        // Another socket has its port id now: the kernel picks one (replies still find it).
        ctx.log.warn(`netlink socket ${e.ino}: port id ${portid} is taken here; it gets another`);
        bind(fd, { family: AF_NETLINK, portid: 0, groups: 0 });
      }
      for (const g of groupsOf(((e.groups ?? []) as number[]).map(Number))) setsockoptInt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g);
      if (Number(e.state) === NETLINK_CONNECTED) connect(fd, { family: AF_NETLINK, portid: Number(e.dst_portid), groups: Number(e.dst_group) });
      fcntl(fd, F.SETFL, Number(e.flags) & O_NONBLOCK);
      return fd;
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  },
};
