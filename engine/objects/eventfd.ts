// eventfd: its counter and flags (files.img EVENTFD entries). Restored with an injected
// eventfd2(counter, flags).
import { NR } from '../../native/index.ts';
import { FOWN, O_NONBLOCK, type FdKind } from './fd-kind.ts';

const EFD_SEMAPHORE = 1;

export const eventfdKind: FdKind = {
  name: 'eventfd',
  type: 6,
  matches: (f) => f.link === 'anon_inode:[eventfd]',
  dump(ctx, f) {
    const id = ctx.fileIds.next();
    const flags = (f.info.flags & O_NONBLOCK) | (f.info.eventfdSemaphore ? EFD_SEMAPHORE : 0);
    return { type: this.type, id, efd: { id, flags, fown: FOWN, counter: f.info.eventfdCount ?? 0n } };
  },
  restore(_ctx, task, file) {
    const e = file.efd as Record<string, any>;
    return Number(task.remote.leader.call('eventfd2', NR.eventfd2, BigInt(e.counter), Number(e.flags) & (O_NONBLOCK | EFD_SEMAPHORE)));
  },
};
