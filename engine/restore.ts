// cryo restore: check the images, create the task with its old pid inside a helper cryo
// controls, rebuild it from inside with injected syscalls, and let it go. The stages follow
// CRIU's restore; each comment says why it comes where it does.
import { existsSync, readFileSync } from 'node:fs';
import { ImageError, PidTakenError, RuntimeError, UnsupportedError } from '../errors.ts';
import {
  CLONE,
  NR,
  PR,
  RSEQ_FLAG_UNREGISTER,
  SIG,
  getRseqConfig,
  setReg,
  setRegs,
  setRlimit,
  setSigmask,
  SyscallError,
  WAIT,
  tryDetach,
  waitTask,
} from '../native/index.ts';
import type { RemoteThread } from './inject.ts';
import type { RestoredTree, RestoreOptions, RestoreStats } from './api.ts';
import type { RestoreContext, RestoreTask } from './context.ts';
import { startHelper, type Helper } from './helper.ts';
import { killTraced } from './tree.ts';
import type { HookName } from './hooks.ts';
import { ImageReader, writeRestoreStats } from './images/index.ts';
import { logFailure, silentLogger } from './log.ts';
import { TASK, finalThreadState, restoreCreds, restoreSigaction, restoreTaskState, restoreThreadState } from './objects/core.ts';
import { restoreCgroups } from './objects/cgroups.ts';
import { checkRegFiles, closeOwnFds, removeGhosts, restoreFds, restoreFs } from './objects/files.ts';
import { restoreFileLocks } from './objects/file-locks.ts';
import { releaseMemfds } from './objects/memfd.ts';
import { abortInetRestore, finishInetRestore } from './objects/inet-sockets.ts';
import { restorePosixTimers } from './objects/posix-timers.ts';
import { checkPages, clearAddressSpace, findFreeArea, moveVdso, restoreMemory, restoreMmFields } from './objects/memory.ts';
import { readMaps, readStat } from './proc/index.ts';
import { RemoteProcess, SCRATCH_SIZE, findVdsoSyscall } from './remote.ts';
import { criuRestoreStats } from './stats.ts';
import { xsaveLayout } from './x86.ts';

type Entry = Record<string, any>;

const us = (ms: number): number => Math.round(ms * 1000);
// pid 1 here reaps orphaned zombies only every couple of seconds: a tree just dumped (killed) may need that long.
const PID_WAIT_MS = 10_000;
const RLIMIT_CORE = 4;

interface LoadedProcess {
  readonly pstree: Entry;
  readonly pid: number;
  /** Exited, kept for its parent to wait() for: raw wait status in its core. */
  readonly zombie: boolean;
  readonly cores: Map<number, Entry>;
  readonly ids: Entry;
  readonly mm: Entry;
  readonly pagemap: Entry[];
}

interface LoadedTree {
  /** pstree order: every parent before its children; the root first. */
  readonly processes: LoadedProcess[];
  readonly byPid: Map<number, LoadedProcess>;
}

/** Everything read and cross-checked before any process is touched. */
function load(ctx: RestoreContext): LoadedTree {
  const images = ctx.images;
  const [inv] = images.read('INVENTORY') as Entry[];
  if (!inv || (inv.img_version !== 1 && inv.img_version !== 2)) throw new ImageError(`inventory.img: unsupported images version ${inv?.img_version}`);
  // As CRIU: a --tcp-close dump saved its connections to come back closed, and says so.
  if (inv.tcp_close && !ctx.tcpClose) throw new UnsupportedError('the images were dumped with --tcp-close', { hint: 'restore with --tcp-close: their TCP connections come back closed' });
  const pstree = images.read('PSTREE') as Entry[];
  if (pstree.length === 0) throw new ImageError('pstree.img: no processes');
  const processes: LoadedProcess[] = [];
  const byPid = new Map<number, LoadedProcess>();
  for (const p of pstree) {
    const pid = Number(p.pid);
    const cores = new Map<number, Entry>();
    const threads = (p.threads as number[]).length ? (p.threads as number[]) : [pid];
    for (const tid of threads) {
      const [core] = images.read('CORE', tid) as Entry[];
      if (!core || core.mtype !== 1) throw new ImageError(`core-${tid}.img: not an x86_64 task`);
      cores.set(tid, core);
    }
    const leaderCore = cores.get(pid);
    if (!leaderCore?.tc) throw new ImageError(`core-${pid}.img: the leader has no task core`);
    if (p !== pstree[0] && !byPid.has(Number(p.ppid))) throw new ImageError(`pstree.img: ${pid}'s parent ${p.ppid} comes after it or is missing`);
    if (leaderCore.tc.task_state === TASK.DEAD) {
      if (p === pstree[0]) throw new ImageError(`pstree.img: the root ${pid} is a zombie`);
      const lp: LoadedProcess = { pstree: p, pid, zombie: true, cores, ids: {}, mm: {}, pagemap: [] };
      processes.push(lp);
      byPid.set(pid, lp);
      continue;
    }
    for (const [tid, core] of cores) if (!core.thread_info) throw new ImageError(`core-${tid}.img: no thread_info`);
    const [ids] = images.read('IDS', pid) as Entry[];
    const [mm] = images.read('MM', pid) as Entry[];
    if (!ids || !mm) throw new ImageError(`ids-${pid}.img / mm-${pid}.img: empty`);
    const pagemap = images.read('PAGEMAP', pid) as Entry[];
    checkPages(ctx, pid, pagemap);
    const lp: LoadedProcess = { pstree: p, pid, zombie: false, cores, ids, mm, pagemap };
    processes.push(lp);
    byPid.set(pid, lp);
  }
  for (const f of images.read('FILES') as Entry[]) ctx.files.set(Number(f.id), f);
  checkRegFiles(ctx);
  // An fd table shared (CLONE_FILES) is re-created by clone from the parent: only parent–child sharing.
  for (const p of processes.slice(1)) {
    if (p.zombie) continue;
    const parent = byPid.get(Number(p.pstree.ppid))!;
    const sharer = processes.find((o) => o !== p && !o.zombie && o.ids.files_id === p.ids.files_id);
    if (sharer && sharer.ids.files_id !== parent.ids.files_id) {
      throw new UnsupportedError(`${p.pid} shares its fd table with ${sharer.pid}, which is not its parent`);
    }
  }
  countSharedFiles(ctx, processes);
  return { processes, byPid };
}

/**
 * Every fd table's fdinfo image, read once; and the descriptions used by more than one table:
 * cryo keeps a copy of them to hand to the others.
 */
function countSharedFiles(ctx: RestoreContext, processes: readonly LoadedProcess[]): void {
  const seen = new Map<number, number>();
  for (const p of processes) {
    const filesId = Number(p.ids.files_id);
    if (p.zombie) continue;
    ctx.fdTableOf.set(p.pid, filesId);
    if (ctx.fdTables.has(filesId)) continue;
    const fdinfo = ctx.images.read('FDINFO', filesId) as Entry[];
    ctx.fdTables.set(filesId, fdinfo);
    for (const id of new Set(fdinfo.map((e) => Number(e.id)))) seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  for (const [id, n] of seen) if (n > 1) ctx.sharedFiles.add(id);
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

/** A process of the tree while it is rebuilt. */
interface Building {
  readonly lp: LoadedProcess;
  readonly task: RestoreTask;
}

/** clone3 flags that re-create what a child shares with its parent (fd table, fs). */
function shareFlags(child: LoadedProcess, parent: LoadedProcess): number {
  if (child.zombie) return 0;
  let flags = 0;
  if (child.ids.files_id === parent.ids.files_id) flags |= CLONE.FILES;
  if (child.ids.fs_id === parent.ids.fs_id) flags |= CLONE.FS;
  return flags;
}

/**
 * Forking: every process is created with its pid by its own parent (so parents, sessions and
 * groups come out right), while all are still copies of the helper: sessions are set up before
 * a process forks its children, which inherit them. Returns the processes in pstree order.
 */
function createTree(tree: LoadedTree, root: RestoreTask, shellJob: boolean, created: number[]): Building[] {
  const out: Building[] = [{ lp: tree.processes[0]!, task: root }];
  const rootLp = tree.processes[0]!;
  const setSession = (lp: LoadedProcess, t: RemoteThread): void => {
    const { pid } = lp;
    if (lp.pstree.sid === pid) t.call('setsid', NR.setsid);
    else if (lp.pstree.pgid === pid) t.call('setpgid', NR.setpgid, 0, 0);
  };
  // A shell job stays in cryo's session and process group (CRIU moves the root's group to its
  // own), so it is in the foreground of cryo's terminal when cryo is.
  if (!shellJob) setSession(rootLp, root.remote.leader);
  const fork = (parent: Building): void => {
    for (const lp of tree.processes) {
      if (Number(lp.pstree.ppid) !== parent.lp.pid || lp === rootLp) continue;
      const prp = parent.task.remote;
      cloneWithTid(prp, lp.pid, shareFlags(lp, parent.lp), SIG.SIGCHLD);
      created.push(lp.pid);
      const rp = new RemoteProcess(lp.pid, prp.leader.syscallIp);
      rp.scratch = prp.scratch;
      rp.useTrapCode();
      const b: Building = { lp, task: { pid: lp.pid, remote: rp, cores: lp.cores } };
      setSession(lp, rp.leader);
      // A zombie shows its name to ps until it is reaped.
      if (lp.zombie) rp.leader.call('prctl', NR.prctl, PR.SET_NAME, rp.putString(0, String(lp.cores.get(lp.pid)!.tc.comm).slice(0, 15)));
      out.push(b);
      fork(b);
    }
  };
  fork(out[0]!);
  // Groups led by a process that is not an ancestor can be joined only now that all exist.
  const rootPgid = rootLp.pstree.pgid;
  for (const b of out) {
    const want = Number(b.lp.pstree.pgid);
    if (want === b.lp.pid) continue;
    // A shell job's own group is the one cryo runs in now (inherited from the root).
    if (shellJob && want === rootPgid) continue;
    const now = Number(b.task.remote.leader.call('getpgid', NR.getpgid, 0));
    if (now !== want) b.task.remote.leader.call('setpgid', NR.setpgid, 0, want);
  }
  return out;
}

/** One live process, from a copy of the helper to its dumped state (all but the final registers). */
async function restoreProcess(ctx: RestoreContext, b: Building, fdTablesDone: Set<number>): Promise<void> {
  const { lp, task } = b;
  const rp = task.remote;
  // Address space: only the scratch area and the vDSO survive from the helper.
  clearAddressSpace(task);
  moveVdso(ctx, task, lp.mm.vmas as Entry[]);
  // mm fields before mapping: PR_SET_MM_MAP refuses to change the exe while the old exe is
  // still mapped (EBUSY), and the dumped task may well map the helper's binary.
  restoreMmFields(ctx, task, lp.mm);
  // Into its cgroups before its memory is filled: its pages are charged there.
  const cgSet = lp.cores.get(lp.pid)?.tc?.cg_set;
  restoreCgroups(ctx, task.pid, cgSet === undefined ? undefined : Number(cgSet));
  await restoreMemory(ctx, task, lp.mm, lp.pagemap);
  // An fd table shared with the parent (CLONE_FILES) was filled through the parent.
  const filesId = Number(lp.ids.files_id);
  if (!fdTablesDone.has(filesId)) {
    restoreFds(ctx, task, filesId);
    restoreFileLocks(ctx, task, filesId);
    fdTablesDone.add(filesId);
  }
  restoreFs(ctx, task);
  restoreTaskState(ctx, task);
  // Threads, each with its own tid, then the state only each thread can set on itself.
  const tids = [...lp.cores.keys()];
  for (const tid of tids) {
    if (tid === lp.pid) continue;
    cloneWithTid(rp, tid, CLONE.VM | CLONE.FS | CLONE.FILES | CLONE.SIGHAND | CLONE.THREAD | CLONE.SYSVSEM, 0);
  }
  for (const tid of tids) restoreThreadState(ctx, task, tid, rp.thread(tid));
  // POSIX timers once every thread exists: a SIGEV_THREAD_ID timer names one.
  restorePosixTimers(ctx, task);
  // Credentials last: once they are dropped, cryo may no longer be allowed to do the rest.
  for (const tid of tids) restoreCreds(ctx, task, tid, rp.thread(tid));
}

/**
 * Registers: the other threads first; the leader unmaps the scratch area as its very last
 * syscall and is left at that syscall's exit stop, with its own registers installed.
 */
function finishProcess(ctx: RestoreContext, b: Building): void {
  const { lp, task } = b;
  const rp = task.remote;
  for (const tid of lp.cores.keys()) {
    if (tid === lp.pid) continue;
    const fin = finalThreadState(ctx, task, tid, rp.thread(tid));
    rp.thread(tid).finish({ regs: fin.regs, mask: fin.mask, ownRestartBlock: false });
  }
  const fin = finalThreadState(ctx, task, lp.pid, rp.leader);
  // The int3s of trap mode may have reset an ignored SIGTRAP to default: set it as dumped.
  rp.stopScratchCode();
  restoreSigaction(task, SIG.SIGTRAP);
  rp.unmapScratch();
  rp.leader.finish({ regs: fin.regs, mask: fin.mask, ownRestartBlock: false });
}

/**
 * A zombie is re-created by letting it exit the way it did: exit_group(status) or its fatal
 * signal (no core dump). It is let go untraced, so its parent — still stopped — finds it a zombie.
 */
function exitAsZombie(b: Building): void {
  const status = Number(b.lp.cores.get(b.lp.pid)!.tc.exit_code);
  const t = b.task.remote.leader;
  const regs = t.saved.slice();
  const sig = status & 0x7f;
  if (sig === 0) {
    setReg(regs, 'ax', NR.exit_group);
    setReg(regs, 'di', (status >> 8) & 0xff);
  } else {
    setRlimit(b.lp.pid, RLIMIT_CORE, 0n, 0n);
    setReg(regs, 'ax', NR.tgkill);
    setReg(regs, 'di', b.lp.pid);
    setReg(regs, 'si', b.lp.pid);
    setReg(regs, 'dx', sig);
  }
  setReg(regs, 'orig_ax', -1);
  setReg(regs, 'ip', t.syscallIp);
  setRegs(b.lp.pid, regs);
  setSigmask(b.lp.pid, 0n);
  tryDetach(b.lp.pid, 0);
}

/** Until every re-created zombie is one: its parent must find it when it resumes. */
function waitZombies(pids: readonly number[]): void {
  const deadline = Date.now() + 5000;
  for (const pid of pids) {
    while (readStat(pid).state !== 'Z') {
      if (Date.now() > deadline) throw new RuntimeError(`re-created zombie ${pid} did not exit`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

export async function restore(opts: RestoreOptions): Promise<RestoredTree> {
  const log = opts.log ?? silentLogger;
  const t0 = performance.now();
  const images = new ImageReader(opts.imagesDir);
  // The pages are hashed in the background while the tasks are rebuilt; checked before they run.
  const pagesHashes = images.verifyDeferred({ trustUnchanged: !opts.verifyImages });
  for (const name of pagesHashes.trusted) log.info(`${name}: written by the dump on this boot and unchanged since (same inode, mtime, ctime): not hashed again (--verify-images hashes it)`);
  const ctx: RestoreContext = {
    images,
    imagesDir: opts.imagesDir,
    log,
    xsave: xsaveLayout(),
    files: new Map(),
    sharedFiles: new Set(),
    fdTables: new Map(),
    fdTableOf: new Map(),
    ownFds: new Map(),
    pipes: new Map(),
    shmem: new Map(),
    stats: { pages_restored: 0 },
    shellJob: opts.shellJob,
    onProgress: opts.onProgress && ((done, total) => opts.onProgress!({ phase: 'restore', pagesDone: done, pagesTotal: total })),
    tcpEstablished: opts.tcpEstablished ?? false,
    tcpClose: opts.tcpClose ?? false,
    cgroupMode: opts.cgroupMode ?? 'soft',
  };
  const tree = load(ctx);
  const rootLp = tree.processes[0]!;
  const pid = rootLp.pid;
  const allTids = tree.processes.flatMap((p) => [...p.cores.keys()]);
  const hook = async (action: HookName, initPid?: number): Promise<void> => {
    await opts.hooks?.({ action, imagesDir: opts.imagesDir, initPid });
  };
  await hook('pre-restore');
  await waitPidsFree(allTids, log);

  let helper: Helper | undefined;
  const created: number[] = [];
  try {
    // Forking: the root is created with its old pid as a copy of the helper, the others from it.
    const tForkStart = performance.now();
    helper = startHelper();
    const hrp = new RemoteProcess(helper.pid, findVdsoSyscall(helper.pid));
    const allVmas = tree.processes.flatMap((p) => (p.mm.vmas ?? []) as Entry[]);
    const scratchAt = findFreeArea(allVmas, readMaps(helper.pid), SCRATCH_SIZE);
    hrp.mapScratch(scratchAt);
    const shellJob = rootLp.pstree.sid !== pid;
    if (shellJob && !opts.shellJob) {
      throw new UnsupportedError(`the dumped task ${pid} was not a session leader`, { hint: 'restore it with --shell-job' });
    }
    // With CLONE_PARENT the exit signal must be 0: the child inherits the helper's (SIGCHLD).
    cloneWithTid(hrp, pid, CLONE.PARENT, 0);
    created.push(pid);
    helper.kill();
    helper = undefined;
    const rp = new RemoteProcess(pid, hrp.leader.syscallIp);
    rp.scratch = scratchAt;
    rp.useTrapCode();
    // The helper's rseq area is about to be unmapped: unregister it first (children forked
    // from here on inherit no registration), or the task dies with SIGSEGV on its next return
    // to user space.
    const rseq = getRseqConfig(pid);
    if (rseq.rseqAbiPointer) rp.leader.call('rseq', NR.rseq, rseq.rseqAbiPointer, rseq.rseqAbiSize, RSEQ_FLAG_UNREGISTER, rseq.signature);
    const building = createTree(tree, { pid, remote: rp, cores: rootLp.cores }, shellJob, created);
    const forkingUs = us(performance.now() - tForkStart);
    log.debug(`created ${building.length} process(es)`);

    const fdTablesDone = new Set<number>();
    for (const b of building) if (!b.lp.zombie) await restoreProcess(ctx, b, fdTablesDone);
    removeGhosts(ctx);
    releaseMemfds(ctx);
    for (const b of building) if (!b.lp.zombie) finishProcess(ctx, b);
    await pagesHashes.wait();
    closeOwnFds(ctx);
    const zombies = building.filter((b) => b.lp.zombie);
    for (const b of zombies) exitAsZombie(b);
    waitZombies(zombies.map((b) => b.lp.pid));

    await hook('post-restore', pid);
    // Like CRIU: the network is unlocked before the connections leave repair mode.
    await finishInetRestore(ctx, pid, (action) => hook(action, pid));
    await hook('pre-resume', pid).catch((e) => log.warn(`pre-resume hook failed: ${(e as Error).message}`));
    for (const b of building) {
      if (b.lp.zombie) continue;
      // A process dumped in a job-control stop is let go stopped, as it was.
      const stopped = opts.leaveStopped || b.lp.cores.get(b.lp.pid)!.tc.task_state === TASK.STOPPED;
      for (const tid of b.lp.cores.keys()) tryDetach(tid, stopped ? SIG.SIGSTOP : 0);
    }
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
    const pids = building.map((b) => b.lp.pid);
    return { pid, pids, stats, wait: (signal?: AbortSignal) => waitExit(pid, signal) };
  } catch (e) {
    abortInetRestore(ctx);
    pagesHashes.cancel();
    helper?.kill();
    closeOwnFds(ctx);
    removeGhosts(ctx);
    // Children first: each is reaped by cryo (tracer) before its parent goes.
    const live = created.filter((p) => existsSync(`/proc/${p}`)).reverse();
    killTraced(live, allTids.filter((t) => live.some((p) => existsSync(`/proc/${p}/task/${t}`))));
    logFailure(log, 'Restoring FAILED', e);
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

