// /proc/PID/fdinfo/FD: common `key:\tvalue` lines, then lines specific to the file's kind.
import { dec64, hex, int, parseError, readProcText } from './io.ts';

export interface InotifyWatch {
  readonly wd: number;
  readonly ino: number;
  /** Superblock device, kernel encoding (major << 20 | minor). */
  readonly sdev: number;
  readonly mask: number;
  readonly ignoredMask: number;
  /** `f_handle` bytes as hex, when printed. */
  readonly fhandle?: { readonly bytes: number; readonly type: number; readonly handle: string };
}

export interface EpollTarget {
  readonly tfd: number;
  readonly events: number;
  readonly data: bigint;
  readonly pos: bigint;
  readonly ino: number;
  readonly sdev: number;
}

export interface Fdinfo {
  readonly pos: bigint;
  /** open(2) flags; printed in octal. */
  readonly flags: number;
  readonly mntId: number;
  readonly ino?: number;
  /** Every single `key: value` line, raw (list lines — tfd, inotify, lock … — are not in here). */
  readonly fields: Readonly<Record<string, string>>;
  readonly eventfdCount?: bigint;
  readonly eventfdSemaphore?: boolean;
  readonly sigmask?: bigint;
  readonly clockid?: number;
  readonly ticks?: bigint;
  /** timerfd_settime flags (TFD_TIMER_ABSTIME …). */
  readonly settimeFlags?: number;
  /** [sec, nsec] until the next expiry. */
  readonly itValue?: readonly [bigint, bigint];
  readonly itInterval?: readonly [bigint, bigint];
  readonly inotify: readonly InotifyWatch[];
  readonly epoll: readonly EpollTarget[];
  /** `lock:` lines without the prefix, e.g. `1: FLOCK  ADVISORY  WRITE 4311 fe:00:2146733 0 EOF`. */
  readonly locks: readonly string[];
}

/** `a:1 b:2f` → { a: '1', b: '2f' } */
function words(line: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const w of line.matchAll(/([\w-]+):\s*(\S+)/g)) m.set(w[1]!, w[2]!);
  return m;
}

const timespec = (s: string | undefined): readonly [bigint, bigint] => {
  const m = /^\((\d+), (\d+)\)$/.exec(s ?? '');
  if (m === null) throw parseError('fdinfo', 'bad timespec', s);
  return [BigInt(m[1]!), BigInt(m[2]!)];
};

export function parseFdinfo(text: string): Fdinfo {
  const fields: Record<string, string> = {};
  const inotify: InotifyWatch[] = [];
  const epoll: EpollTarget[] = [];
  const locks: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('inotify ')) {
      const w = words(line);
      const handle = w.get('f_handle');
      inotify.push({
        wd: int('fdinfo', w.get('wd')),
        ino: Number(hex('fdinfo', w.get('ino'))),
        sdev: Number(hex('fdinfo', w.get('sdev'))),
        mask: Number(hex('fdinfo', w.get('mask'))),
        ignoredMask: Number(hex('fdinfo', w.get('ignored_mask'))),
        ...(handle === undefined
          ? {}
          : { fhandle: { bytes: Number(hex('fdinfo', w.get('fhandle-bytes'))), type: Number(hex('fdinfo', w.get('fhandle-type'))), handle } }),
      });
    } else if (line.startsWith('tfd:')) {
      const w = words(line);
      epoll.push({
        tfd: int('fdinfo', w.get('tfd')),
        events: Number(hex('fdinfo', w.get('events'))),
        data: hex('fdinfo', w.get('data')),
        pos: dec64('fdinfo', w.get('pos')),
        ino: Number(hex('fdinfo', w.get('ino'))),
        sdev: Number(hex('fdinfo', w.get('sdev'))),
      });
    } else if (line.startsWith('lock:')) {
      locks.push(line.slice(5).trim());
    } else {
      const colon = line.indexOf(':');
      if (colon < 0) continue; // fanotify and future kinds: not parsed yet
      fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
    }
  }
  const need = (k: string): string => {
    const v = fields[k];
    if (v === undefined) throw parseError('fdinfo', `missing ${k}`, text);
    return v;
  };
  const flags = need('flags');
  if (!/^[0-7]+$/.test(flags)) throw parseError('fdinfo', 'flags are not octal', flags);
  const opt = <T>(k: string, f: (s: string) => T): T | undefined => (fields[k] === undefined ? undefined : f(fields[k]));
  const out: { -readonly [K in keyof Fdinfo]: Fdinfo[K] } = {
    pos: dec64('fdinfo', need('pos')),
    flags: parseInt(flags, 8),
    mntId: int('fdinfo', need('mnt_id')),
    fields,
    inotify,
    epoll,
    locks,
  };
  const ino = opt('ino', (s) => int('fdinfo', s));
  if (ino !== undefined) out.ino = ino;
  const count = opt('eventfd-count', (s) => hex('fdinfo', s));
  if (count !== undefined) out.eventfdCount = count;
  const sem = opt('eventfd-semaphore', (s) => s === '1');
  if (sem !== undefined) out.eventfdSemaphore = sem;
  const sigmask = opt('sigmask', (s) => hex('fdinfo', s));
  if (sigmask !== undefined) out.sigmask = sigmask;
  if (fields['clockid'] !== undefined) {
    out.clockid = int('fdinfo', fields['clockid']);
    out.ticks = dec64('fdinfo', need('ticks'));
    out.settimeFlags = parseInt(need('settime flags'), 8);
    out.itValue = timespec(fields['it_value']);
    out.itInterval = timespec(fields['it_interval']);
  }
  return out;
}

export function readFdinfo(pid: number, fd: number): Fdinfo {
  return parseFdinfo(readProcText(`/proc/${pid}/fdinfo/${fd}`));
}
