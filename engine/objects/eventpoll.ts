// epoll: an epoll instance and the fds it watches, each with its events mask and data (files.img
// EVENTPOLL entries, the watched fds inline as eventpoll_tfd_entry, read from fdinfo `tfd:` lines).
// Restored with an injected epoll_create1; the watches are added back (epoll_ctl ADD) once every
// fd of the task is at its number. What was ready is found again by the kernel on ADD
// (level-triggered readiness); edge-triggered events already reported are not replayed.
import { statSync } from 'node:fs';
import { F, NR, O } from '../../native/index.ts';
import { UnsupportedError } from '../../errors.ts';
import { FOWN, O_NONBLOCK, type FdKind } from './fd-kind.ts';

const EPOLL_CTL_ADD = 1;
// Scratch offset for the struct epoll_event of an injected epoll_ctl (packed on x86_64: u32 events, u64 data).
const EVENT_OFF = 16384;

export const eventpollKind: FdKind = {
  name: 'epoll',
  type: 7,
  matches: (f) => f.link === 'anon_inode:[eventpoll]',
  dump(ctx, f) {
    const id = ctx.fileIds.next();
    const tfd = f.info.epoll.map((t) => {
      // The kernel keeps the fd number the target was added with: it must still name that file.
      let ino: number | undefined;
      try {
        ino = statSync(`/proc/${f.pid}/fd/${t.tfd}`).ino;
      } catch {
        ino = undefined;
      }
      if (ino !== t.ino) {
        throw new UnsupportedError(`${f.pid}: epoll fd ${f.fd} watches fd ${t.tfd}, which was closed or replaced since`, {
          hint: 'the epoll set holds a file no fd of the task names any more; CRIU refuses this too',
        });
      }
      return { id, tfd: t.tfd, events: t.events, data: t.data, dev: t.sdev, inode: BigInt(t.ino), pos: t.pos };
    });
    return { type: this.type, id, epfd: { id, flags: f.info.flags & ~O.CLOEXEC, fown: FOWN, tfd } };
  },
  restore(_ctx, task, file) {
    const t = task.remote.leader;
    const fd = Number(t.call('epoll_create1', NR.epoll_create1, 0));
    const flags = Number((file.epfd as Record<string, any>).flags);
    if (flags & O_NONBLOCK) t.call('fcntl', NR.fcntl, fd, F.SETFL, O_NONBLOCK);
    return fd;
  },
  afterAll(_ctx, task, file, fd) {
    const ev = Buffer.alloc(12);
    // An epoll set watching nothing has no tfd field at all (proto2: empty repeated fields are absent).
    for (const w of ((file.epfd as Record<string, any>).tfd ?? []) as Record<string, any>[]) {
      ev.writeUInt32LE(Number(w.events) >>> 0, 0);
      ev.writeBigUInt64LE(BigInt(w.data), 4);
      task.remote.leader.call('epoll_ctl', NR.epoll_ctl, fd, EPOLL_CTL_ADD, Number(w.tfd), task.remote.put(EVENT_OFF, ev));
    }
  },
};
