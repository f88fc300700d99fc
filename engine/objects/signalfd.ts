// signalfd: the mask of signals it reads (files.img SIGNALFD entries). Restored with an
// injected signalfd4(-1, &mask, 8, flags).
import { NR } from '../../native/index.ts';
import { FOWN, O_NONBLOCK, type FdKind } from './fd-kind.ts';

export const signalfdKind: FdKind = {
  name: 'signalfd',
  type: 9,
  matches: (f) => f.link === 'anon_inode:[signalfd]',
  dump(ctx, f) {
    const id = ctx.fileIds.next();
    return { type: this.type, id, sgfd: { id, flags: f.info.flags & O_NONBLOCK, fown: FOWN, sigmask: f.info.sigmask ?? 0n } };
  },
  restore(_ctx, task, file) {
    const s = file.sgfd as Record<string, any>;
    const mask = Buffer.alloc(8);
    mask.writeBigUInt64LE(BigInt(s.sigmask), 0);
    return Number(task.remote.leader.call('signalfd4', NR.signalfd4, -1, task.remote.put(12288, mask), 8, Number(s.flags) & O_NONBLOCK));
  },
};
