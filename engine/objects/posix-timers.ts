// POSIX timers (timer_create) of a process: core.tc.timers.posix, as CRIU writes them (CRIU
// reads a legacy posix-timers-PID.img when a core has no timers). Dump: /proc/PID/timers names
// each timer, its signal and notification; injected timer_gettime/timer_getoverrun tell the time
// left, the interval and the overrun. Restore: timer_create with the same id — through
// prctl(PR_TIMER_CREATE_RESTORE_IDS) where the kernel has it, else CRIU's way (create and delete
// until the kernel hands out the wanted id) — then timer_settime. The overrun count can't be set.
import { NR, PR } from '../../native/index.ts';
import { RuntimeError } from '../../errors.ts';
import type { DumpTask, RestoreContext, RestoreTask } from '../context.ts';
import { readTimers, type PosixTimerInfo } from '../proc/index.ts';

type Entry = Record<string, any>;

// Scratch offsets (the injection session's scratch area).
const OUT = 0;
const SEV = 256;
const SPEC = 512;

/** sigev_notify values (asm-generic/siginfo.h). */
export const SIGEV = { SIGNAL: 0, NONE: 1, THREAD: 2, THREAD_ID: 4 } as const;
const PR_TIMER_CREATE_RESTORE_IDS_OFF = 0;
const PR_TIMER_CREATE_RESTORE_IDS_ON = 1;

/** it_sigev_notify of CRIU's image from a /proc/PID/timers entry. */
export function sigevNotify(t: PosixTimerInfo): number {
  const base = t.notify === 'signal' ? SIGEV.SIGNAL : t.notify === 'none' ? SIGEV.NONE : SIGEV.THREAD;
  return base | (t.notifyThreadId ? SIGEV.THREAD_ID : 0);
}

/** posix_timer_entry of one timer from its /proc line and its struct itimerspec (32 bytes). */
export function timerEntry(t: PosixTimerInfo, spec: Buffer, overrun: number): Entry {
  const e: Entry = {
    it_id: t.id,
    clock_id: t.clockId >>> 0, // CPU-time clocks are negative; the image field is a uint32
    si_signo: t.signo,
    it_sigev_notify: sigevNotify(t),
    sival_ptr: t.sigval,
    overrun,
    isec: spec.readBigUInt64LE(0),
    insec: spec.readBigUInt64LE(8),
    vsec: spec.readBigUInt64LE(16),
    vnsec: spec.readBigUInt64LE(24),
  };
  if (t.notifyThreadId) e.notify_thread_id = t.notifyPid;
  return e;
}

/** ---- dump ---- */

/** Every POSIX timer of the task, by id, asked from its leader. */
export function collectPosixTimers(task: DumpTask): Entry[] {
  const rp = task.remote;
  const t = rp.leader;
  return readTimers(task.proc.pid).map((info) => {
    t.call('timer_gettime', NR.timer_gettime, info.id, rp.scratch + BigInt(OUT));
    const spec = rp.get(OUT, 32);
    const overrun = Number(t.call('timer_getoverrun', NR.timer_getoverrun, info.id));
    return timerEntry(info, spec, overrun);
  });
}

/** ---- restore ---- */

/** struct sigevent (64 bytes): value, signo, notify, and the thread id for SIGEV_THREAD_ID. */
export function sigevent(e: Entry): Buffer {
  const b = Buffer.alloc(64);
  b.writeBigUInt64LE(BigInt(e.sival_ptr ?? 0), 0);
  b.writeInt32LE(Number(e.si_signo), 8);
  b.writeInt32LE(Number(e.it_sigev_notify), 12);
  b.writeInt32LE(Number(e.notify_thread_id ?? 0), 16);
  return b;
}

/** struct itimerspec to arm a timer with. A periodic timer read as 0 left (expired, its signal
 * pending) restarts one interval on, as CRIU does: 0 would disarm it. */
export function armSpec(e: Entry): Buffer {
  const b = Buffer.alloc(32);
  let [vs, vn] = [BigInt(e.vsec ?? 0), BigInt(e.vnsec ?? 0)];
  if (vs === 0n && vn === 0n) [vs, vn] = [BigInt(e.isec ?? 0), BigInt(e.insec ?? 0)];
  [BigInt(e.isec ?? 0), BigInt(e.insec ?? 0), vs, vn].forEach((v, i) => b.writeBigUInt64LE(v, i * 8));
  return b;
}

/** Timers of the image: in the leader's core, or in the legacy posix-timers image. */
function loadTimers(ctx: RestoreContext, task: RestoreTask): Entry[] {
  const tc = (task.cores.get(task.pid)?.tc ?? {}) as Entry;
  const timers = tc.timers ? ((tc.timers as Entry).posix ?? []) : (ctx.images.readOptional('POSIX_TIMERS', task.pid) ?? []);
  return [...(timers as Entry[])].sort((a, b) => Number(a.it_id) - Number(b.it_id));
}

/**
 * Re-creates the task's POSIX timers with their ids and arms them. Runs once every thread
 * exists (a SIGEV_THREAD_ID timer names one); its signals stay blocked until the task resumes.
 */
export function restorePosixTimers(ctx: RestoreContext, task: RestoreTask): void {
  const timers = loadTimers(ctx, task);
  if (!timers.length) return;
  const rp = task.remote;
  const t = rp.leader;
  const idOut = rp.scratch + BigInt(OUT);
  // Kernel 6.15+: with this on, timer_create takes the id it is to give from *timer_id.
  const explicit = t.raw(NR.prctl, PR.TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0) === 0n;
  try {
    for (const e of timers) {
      const want = Number(e.it_id);
      const sev = rp.put(SEV, sigevent(e));
      const clock = Number(e.clock_id) | 0;
      for (;;) {
        const idBuf = Buffer.alloc(4);
        idBuf.writeInt32LE(want, 0);
        rp.put(OUT, idBuf);
        t.call('timer_create', NR.timer_create, clock, sev, idOut);
        const got = rp.get(OUT, 4).readInt32LE(0);
        if (got === want) break;
        t.call('timer_delete', NR.timer_delete, got);
        if (explicit || got > want) {
          throw new RuntimeError(`${task.pid}: posix timer ${want} can't be re-created (the kernel gave id ${got})`, {
            hint: explicit ? undefined : 'this kernel hands out timer ids in order only; restore on a kernel with PR_TIMER_CREATE_RESTORE_IDS (6.15+)',
          });
        }
      }
    }
  } finally {
    if (explicit) t.raw(NR.prctl, PR.TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0);
  }
  for (const e of timers) t.call('timer_settime', NR.timer_settime, Number(e.it_id), 0, rp.put(SPEC, armSpec(e)), 0);
  ctx.log.debug(`${task.pid}: ${timers.length} posix timer(s) restored${explicit ? ' with explicit ids' : ''}`);
}
