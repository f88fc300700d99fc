// cryo restore: check the images, create the task with its old pid inside a helper cryo
// controls, rebuild it from inside with injected syscalls, and let it go. The stages follow
// CRIU's restore; each comment says why it comes where it does.
import { existsSync, readFileSync } from 'node:fs';
import { ImageError, PidTakenError, RuntimeError, UnsupportedError } from '../errors.ts';
import {
  CLONE,
  NR,
  RSEQ_FLAG_UNREGISTER,
  SIG,
  getRseqConfig,
  SyscallError,
  WAIT,
  tryDetach,
  waitTask,
} from '../native/index.ts';
import type { RestoredTree, RestoreOptions, RestoreStats } from './api.ts';
import type { RestoreContext, RestoreTask } from './context.ts';
import { startHelper, type Helper } from './helper.ts';
import { killTraced } from './tree.ts';
import type { HookName } from './hooks.ts';
import { ImageReader, writeRestoreStats } from './images/index.ts';
import { silentLogger } from './log.ts';
import { finalThreadState, restoreCreds, restoreSigaction, restoreTaskState, restoreThreadState } from './objects/core.ts';
import { restoreFds, restoreFs } from './objects/files.ts';
import { restorePosixTimers } from './objects/posix-timers.ts';
import { checkPages, clearAddressSpace, findFreeArea, moveVdso, restoreMemory, restoreMmFields } from './objects/memory.ts';
import { readMaps, readStat } from './proc/index.ts';
import { RemoteProcess, SCRATCH_SIZE, findVdsoSyscall } from './remote.ts';
import { criuRestoreStats } from './stats.ts';
import { xsaveLayout } from './x86.ts';

type Entry = Record<string, any>;

const us = (ms: number): number => Math.round(ms * 1000);
const PID_WAIT_MS = 5000;

interface LoadedTask {
  readonly pstree: Entry;
  readonly cores: Map<number, Entry>;
  readonly ids: Entry;
  readonly mm: Entry;
  readonly pagemap: Entry[];
}

/** Everything read and cross-checked before any process is touched. */
function load(ctx: RestoreContext): LoadedTask {
  const images = ctx.images;
  const [inv] = images.read('INVENTORY') as Entry[];
  if (!inv || (inv.img_version !== 1 && inv.img_version !== 2)) throw new ImageError(`inventory.img: unsupported images version ${inv?.img_version}`);
  const pstree = images.read('PSTREE') as Entry[];
  if (pstree.length !== 1) {
    throw new UnsupportedError(`pstree.img holds ${pstree.length} processes`, { hint: 'process trees are not supported yet' });
  }
  const p = pstree[0]!;
  const cores = new Map<number, Entry>();
  const threads = (p.threads as number[]).length ? (p.threads as number[]) : [p.pid as number];
  for (const tid of threads) {
    const [core] = images.read('CORE', tid) as Entry[];
    if (!core || core.mtype !== 1) throw new ImageError(`core-${tid}.img: not an x86_64 task`);
    if (!core.thread_info) throw new ImageError(`core-${tid}.img: no thread_info`);
    cores.set(tid, core);
  }
  if (!cores.get(p.pid)?.tc) throw new ImageError(`core-${p.pid}.img: the leader has no task core`);
  const [ids] = images.read('IDS', p.pid) as Entry[];
  const [mm] = images.read('MM', p.pid) as Entry[];
  if (!ids || !mm) throw new ImageError(`ids-${p.pid}.img / mm-${p.pid}.img: empty`);
  const pagemap = images.read('PAGEMAP', p.pid) as Entry[];
  checkPages(ctx, p.pid, pagemap);
  for (const f of images.read('FILES') as Entry[]) ctx.files.set(Number(f.id), f);
  return { pstree: p, cores, ids, mm, pagemap };
}

function holder(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return cmd || readStat(pid).comm;
  } catch {
    return '?';
  }
}

/** Waits (briefly) for pids still held by zombies about to be reaped; refuses pids in use. */
async function waitPidsFree(pids: readonly number[], log: RestoreContext['log']): Promise<void> {
  const deadline = Date.now() + PID_WAIT_MS;
  for (const pid of pids) {
    for (;;) {
      if (!existsSync(`/proc/${pid}`)) break;
      let state = '?';
      try {
        state = readStat(pid).state;
      } catch {
        break; // gone meanwhile
      }
      if (state !== 'Z' && state !== 'X') {
        throw new PidTakenError(`pid ${pid} is in use by \`${holder(pid)}\``, {
          hint: 'the dumped process (or another) still runs with that pid: stop it, or dump without --leave-running',
        });
      }
      if (Date.now() > deadline) throw new PidTakenError(`pid ${pid} is still held by a zombie that nobody reaps`, { hint: 'its parent must wait() for it' });
      log.debug(`pid ${pid} is a zombie, waiting for it to be reaped`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** clone3 with set_tid into `rp`'s leader, retrying while a zombie still holds the pid; waits for the new task's first stop. */
function cloneWithTid(rp: RemoteProcess, tid: number, flags: number, exitSignal: number): void {
  for (let attempt = 0; ; attempt++) {
    const r = rp.clone3WithTid(tid, flags, exitSignal);
    if (r === BigInt(tid)) break;
    if (r === -17n /* EEXIST: a zombie still holds it */ && attempt < 250) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      continue;
    }
    if (r >= 0n) throw new RuntimeError(`clone3 gave pid ${r}, wanted ${tid} (set_tid ignored?)`);
    throw new RuntimeError(`clone3(set_tid=${tid}) failed: errno ${-r}`, { hint: r === -17n ? `pid ${tid} is in use` : undefined });
  }
  const st = waitTask(tid);
  if (st.kind !== 'stopped') throw new RuntimeError(`new task ${tid} did not stop: ${JSON.stringify(st)}`);
}

export async function restore(opts: RestoreOptions): Promise<RestoredTree> {
  const log = opts.log ?? silentLogger;
  const t0 = performance.now();
  const images = new ImageReader(opts.imagesDir);
  images.verify();
  const ctx: RestoreContext = {
    images,
    imagesDir: opts.imagesDir,
    log,
    xsave: xsaveLayout(),
    files: new Map(),
    stats: { pages_restored: 0 },
    onProgress: opts.onProgress && ((done, total) => opts.onProgress!({ phase: 'restore', pagesDone: done, pagesTotal: total })),
  };
  const loaded = load(ctx);
  const pid = loaded.pstree.pid as number;
  const tids = [...loaded.cores.keys()];
  const hook = async (action: HookName, initPid?: number): Promise<void> => {
    await opts.hooks?.({ action, imagesDir: opts.imagesDir, initPid });
  };
  await hook('pre-restore');
  await waitPidsFree(tids, log);

  let helper: Helper | undefined;
  let task: RestoreTask | undefined;
  let created = false;
  try {
    // Forking: the task is created with its old pid as a copy of the helper.
    const tForkStart = performance.now();
    helper = startHelper();
    const hrp = new RemoteProcess(helper.pid, findVdsoSyscall(helper.pid));
    const scratchAt = findFreeArea(loaded.mm.vmas as Entry[], readMaps(helper.pid), SCRATCH_SIZE);
    hrp.mapScratch(scratchAt);
    const shellJob = loaded.pstree.sid !== pid;
    if (shellJob && !opts.shellJob) {
      throw new UnsupportedError(`the dumped task ${pid} was not a session leader`, { hint: 'restore it with --shell-job' });
    }
    // With CLONE_PARENT the exit signal must be 0: the child inherits the helper's (SIGCHLD).
    cloneWithTid(hrp, pid, CLONE.PARENT, 0);
    created = true;
    const forkingUs = us(performance.now() - tForkStart);
    helper.kill();
    helper = undefined;
    const rp = new RemoteProcess(pid, hrp.leader.syscallIp);
    rp.scratch = scratchAt;
    task = { pid, remote: rp, cores: loaded.cores };
    const t = rp.leader;
    rp.useTrapCode();

    // The helper's rseq area is about to be unmapped: unregister it first, or the task dies
    // with SIGSEGV on its next return to user space.
    const rseq = getRseqConfig(pid);
    if (rseq.rseqAbiPointer) t.call('rseq', NR.rseq, rseq.rseqAbiPointer, rseq.rseqAbiSize, RSEQ_FLAG_UNREGISTER, rseq.signature);
    if (!shellJob) t.call('setsid', NR.setsid);
    else if (loaded.pstree.pgid === pid) t.call('setpgid', NR.setpgid, 0, 0);

    // Address space: only the scratch area and the vDSO survive from the helper.
    clearAddressSpace(task);
    moveVdso(ctx, task, loaded.mm.vmas as Entry[]);
    // mm fields before mapping: PR_SET_MM_MAP refuses to change the exe while the old exe is
    // still mapped (EBUSY), and the dumped task may well map the helper's binary.
    restoreMmFields(ctx, task, loaded.mm);
    restoreMemory(ctx, task, loaded.mm, loaded.pagemap);
    restoreFds(ctx, task, Number(loaded.ids.files_id));
    restoreFs(ctx, task);
    restoreTaskState(ctx, task);

    // Threads, each with its own tid, then the state only each thread can set on itself.
    for (const tid of tids) {
      if (tid === pid) continue;
      cloneWithTid(rp, tid, CLONE.VM | CLONE.FS | CLONE.FILES | CLONE.SIGHAND | CLONE.THREAD | CLONE.SYSVSEM, 0);
    }
    for (const tid of tids) restoreThreadState(ctx, task, tid, rp.thread(tid));
    // POSIX timers once every thread exists: a SIGEV_THREAD_ID timer names one.
    restorePosixTimers(ctx, task);
    // Credentials last: once they are dropped, cryo may no longer be allowed to do the rest.
    for (const tid of tids) restoreCreds(ctx, task, tid, rp.thread(tid));

    // Registers: the other threads first; the leader unmaps the scratch area as its very last
    // syscall and is left at that syscall's exit stop, with its own registers installed.
    for (const tid of tids) {
      if (tid === pid) continue;
      const fin = finalThreadState(ctx, task, tid, rp.thread(tid));
      rp.thread(tid).finish({ regs: fin.regs, mask: fin.mask, ownRestartBlock: false });
    }
    const fin = finalThreadState(ctx, task, pid, t);
    // The int3s of trap mode may have reset an ignored SIGTRAP to default: set it as dumped.
    rp.stopTrapCode();
    restoreSigaction(task, SIG.SIGTRAP);
    rp.unmapScratch();
    t.finish({ regs: fin.regs, mask: fin.mask, ownRestartBlock: false });

    await hook('post-restore', pid);
    await hook('pre-resume', pid).catch((e) => log.warn(`pre-resume hook failed: ${(e as Error).message}`));
    for (const tid of tids) tryDetach(tid, opts.leaveStopped ? SIG.SIGSTOP : 0);
    const stats: RestoreStats = {
      forking_time: forkingUs,
      restore_time: us(performance.now() - t0),
      pages_restored: ctx.stats.pages_restored,
    };
    try {
      writeRestoreStats(opts.imagesDir, criuRestoreStats(stats));
    } catch (e) {
      log.warn(`can't write stats-restore: ${(e as Error).message}`);
    }
    await hook('post-resume', pid).catch((e) => log.warn(`post-resume hook failed: ${(e as Error).message}`));
    log.info('Restore finished successfully. Tasks resumed.');
    return { pid, pids: [pid], stats, wait: (signal?: AbortSignal) => waitExit(pid, signal) };
  } catch (e) {
    helper?.kill();
    if (created) killTraced([pid], tids.filter((t) => existsSync(`/proc/${pid}/task/${t}`)));
    log.error(`Restoring FAILED: ${(e as Error).message}`);
    throw e;
  }
}

/**
 * Waits for the restored root (cryo's child) without blocking the event loop. An aborted
 * `signal` stops the waiting (the task runs on) and rejects with the abort reason.
 */
function waitExit(pid: number, signal?: AbortSignal): Promise<{ code: number | null; signal: number | null }> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (fn: () => void): void => {
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const poll = (): void => {
      let st: ReturnType<typeof waitTask>;
      try {
        st = waitTask(pid, WAIT.WNOHANG);
      } catch (e) {
        if (e instanceof SyscallError && e.code === 'ECHILD') {
          return done(() =>
            reject(new RuntimeError(`can't wait for restored pid ${pid}: it is not (or no longer) cryo's child (ECHILD)`, {
              hint: 'another waiter reaped it, e.g. a child_process handle of this process for an earlier process with the same pid',
            })),
          );
        }
        return done(() => reject(e));
      }
      if (st.kind === 'exited') return done(() => resolve({ code: st.code, signal: null }));
      if (st.kind === 'signaled') return done(() => resolve({ code: null, signal: st.signal }));
      timer = setTimeout(poll, 20);
    };
    poll();
  });
}

