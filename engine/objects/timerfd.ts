// timerfd: clock, remaining time and interval (files.img TIMERFD entries). Restored with an
// injected timerfd_create + timerfd_settime (relative: the time left at the dump). Expirations
// counted but not yet read (`ticks`) are not re-armed yet: the kernel has no call to set them
// without CONFIG_CHECKPOINT_RESTORE's TFD_IOC_SET_TICKS, which cryo does not use yet.
import { NR } from '../../native/index.ts';
import { FOWN, O_NONBLOCK, type FdKind } from './fd-kind.ts';

export const timerfdKind: FdKind = {
  name: 'timerfd',
  type: 17,
  matches: (f) => f.link === 'anon_inode:[timerfd]',
  dump(ctx, f) {
    const id = ctx.fileIds.next();
    const [vsec, vnsec] = f.info.itValue ?? [0n, 0n];
    const [isec, insec] = f.info.itInterval ?? [0n, 0n];
    const tfd = {
      id, flags: f.info.flags & O_NONBLOCK, fown: FOWN, clockid: f.info.clockid ?? 0, ticks: f.info.ticks ?? 0n,
      settime_flags: f.info.settimeFlags ?? 0, vsec, vnsec, isec, insec,
    };
    return { type: this.type, id, tfd };
  },
  restore(_ctx, task, file) {
    const t = file.tfd as Record<string, any>;
    const leader = task.remote.leader;
    const fd = Number(leader.call('timerfd_create', NR.timerfd_create, Number(t.clockid), Number(t.flags) & O_NONBLOCK));
    let [vsec, vnsec] = [BigInt(t.vsec), BigInt(t.vnsec)];
    // An expired periodic timer reads as 0 left: it fires again one interval on.
    if (vsec === 0n && vnsec === 0n) [vsec, vnsec] = [BigInt(t.isec), BigInt(t.insec)];
    if (vsec !== 0n || vnsec !== 0n) {
      const its = Buffer.alloc(32);
      [BigInt(t.isec), BigInt(t.insec), vsec, vnsec].forEach((v, i) => its.writeBigUInt64LE(v, i * 8));
      leader.call('timerfd_settime', NR.timerfd_settime, fd, 0, task.remote.put(12288, its), 0);
    }
    return fd;
  },
};
