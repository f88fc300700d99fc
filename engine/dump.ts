// cryo dump: freeze the tree, collect what only the tasks can tell (injected syscalls), put every
// thread back at once, then copy memory and write the images. Read top to bottom like CRIU's
// cr_dump_tasks(). Any failure resumes every task exactly as it was.
import { mkdirSync } from 'node:fs';
import { CryoError, HookError, InputError, RuntimeError, UnsupportedError } from '../errors.ts';
import { NR, PR, SIG } from '../native/index.ts';
import type { DumpOptions, DumpResult, DumpStats } from './api.ts';
import { IdAllocator, type DumpContext, type DumpTask } from './context.ts';
import type { HookName } from './hooks.ts';
import { ImageWriter, hasMessage } from './images/index.ts';
import { logFailure, silentLogger, type Logger } from './log.ts';
import { TASK, collectCores } from './objects/core.ts';
import { GHOST_LIMIT, dumpFds, dumpFs, writeFileImages, writePipeData } from './objects/files.ts';
import { writeFifoData } from './objects/fifo.ts';
import { dumpFileLocks, writeFileLocks } from './objects/file-locks.ts';
import { writeMemfdInodes } from './objects/memfd.ts';
import { InetDumpState } from './objects/inet-sockets.ts';
import { KobjIds } from './objects/ids.ts';
import { cgroupSetOf, writeCgroups } from './objects/cgroups.ts';
import { dumpMemory, hasSharedAnonymous, stageBytes, startFindingPages, treeAnonBytes, writeSnapshotPages } from './objects/memory.ts';
import { SnapshotPlan, dropSnapshots } from './objects/snapshot.ts';
import { taskWritesPages } from './objects/task-pages.ts';
import { writeSysvShm } from './objects/sysv-shm.ts';
import { guardStopSignal } from './inject.ts';
import { findVdsoSyscall, RemoteProcess } from './remote.ts';
import { readStatus } from './proc/index.ts';
import { releaseThreads, seizeTree, type FrozenProcess, type FrozenTree } from './tree.ts';
import { xsaveLayout } from './x86.ts';
import { faultPoint } from './faults.ts';
import { criuDumpStats, imageDirSize } from './stats.ts';

type Entry = Record<string, any>;

const us = (ms: number): number => Math.round(ms * 1000);

/** What only the task can tell, asked while its threads are parked in injection. */
interface Injected {
  readonly cores: Map<number, Entry>;
  readonly brk: bigint;
  readonly dumpable: number;
  readonly thpDisabled: boolean;
  /** PR_GET_CHILD_SUBREAPER: a --leave-running snapshot would be orphaned to it (objects/snapshot.ts). */
  readonly subreaper: boolean;
}

function inject(ctx: DumpContext, tree: FrozenTree, pid: number): Injected {
  const proc = tree.processes.find((p) => p.pid === pid)!;
  const remote = new RemoteProcess(pid, findVdsoSyscall(pid), { guarded: true });
  const task: DumpTask = { proc, remote };
  try {
    remote.mapScratch();
    const statuses = new Map(proc.tids.map((tid) => [tid, readStatus(pid, tid)] as const));
    // Every call through the guard code: a thread's queries (or a process's 64 sigactions) in one
    // stop, ended by a signal the task ignores; without one, two stops per syscall.
    const stopSignal = guardStopSignal(statuses.values());
    remote.useGuardCode(stopSignal);
    if (stopSignal) ctx.log.debug(`${pid}: injected calls stop at signal ${stopSignal}, which it ignores`);
    else ctx.log.debug(`${pid}: no ignored signal to stop injected calls with: each syscall is stepped`);
    const cores = collectCores(ctx, task, statuses);
    faultPoint('injecting');
    const [brk, dumpable, thp] = remote.run([
      { name: 'brk', nr: NR.brk, args: [0] },
      { name: 'prctl', nr: NR.prctl, args: [PR.GET_DUMPABLE, 0, 0, 0, 0] },
      { name: 'prctl', nr: NR.prctl, args: [PR.GET_THP_DISABLE, 0, 0, 0, 0] },
      { name: 'prctl', nr: NR.prctl, args: [PR.GET_CHILD_SUBREAPER, remote.scratch, 0, 0, 0] },
    ]);
    const subreaper = remote.get(0, 4).readInt32LE(0) !== 0;
    // The scratch area stays for the pages and the snapshot: mapping and unmapping one steps the
    // vDSO's syscall, the only calls that have no way back should cryo die.
    ctx.remotes.set(pid, remote);
    return { cores, brk: brk!, dumpable: Number(dumpable), thpDisabled: thp !== 0n, subreaper };
  } catch (e) {
    dropScratch(remote);
    throw e;
  } finally {
    // Put every thread back before the long part (memory): a cryo killed from now on leaves
    // tasks that resume exactly where they were.
    remote.restoreAll();
  }
}

/** Unmaps a process's scratch area and puts its threads back. */
function dropScratch(remote: RemoteProcess): void {
  try {
    remote.unmapScratch();
  } finally {
    remote.restoreAll();
  }
}

/**
 * Before the tasks are let go: each process's scratch area unmapped, unless it is killed (the
 * unmap would be a call with no way back, for nothing). A failure is logged, not thrown: the
 * tasks are let go all the same, one with 64 KiB more mapped.
 */
function releaseScratch(remotes: Map<number, RemoteProcess>, final: 'running' | 'stopped' | 'killed', log: Logger): void {
  if (final !== 'killed') {
    for (const [pid, remote] of remotes) {
      try {
        dropScratch(remote);
      } catch (e) {
        log.warn(`${pid}: its scratch area at 0x${remote.scratch.toString(16)} stays mapped: ${(e as Error).message}`);
      }
    }
  }
  remotes.clear();
}

/** A zombie keeps only what its parent can still wait() for: the raw wait status, as CRIU. */
function zombieCore(proc: FrozenProcess): Entry {
  return {
    mtype: 1,
    tc: { task_state: TASK.DEAD, exit_code: proc.stat.exitCode, personality: 0, flags: proc.stat.flags, blk_sigset: 0n, comm: proc.stat.comm },
  };
}

/**
 * Restore re-creates sessions and process groups with setsid()/setpgid(), so each process's
 * session must be its own or its parent's, and its group must be its own or one led by a
 * process of the tree (or the root's, for a shell job).
 */
function checkSessions(tree: FrozenTree, shellJob: boolean): void {
  const byPid = new Map(tree.processes.map((p) => [p.pid, p]));
  const root = byPid.get(tree.root)!;
  if (root.stat.session !== root.pid && !shellJob) {
    throw new UnsupportedError(`the root task ${root.pid} is not a session leader`, { hint: 'consider using --shell-job' });
  }
  for (const p of tree.processes) {
    const parent = byPid.get(p.stat.ppid);
    const { session: sid, pgrp: pgid } = p.stat;
    if (p !== root && sid !== p.pid && sid !== parent?.stat.session) {
      throw new UnsupportedError(`process ${p.pid} is in session ${sid}, neither its own nor its parent's`, {
        hint: 'cryo re-creates sessions with setsid(); a session inherited from a process that left it is not supported',
      });
    }
    const leader = byPid.get(pgid);
    const inherited = shellJob && pgid === root.stat.pgrp;
    if (pgid !== p.pid && !inherited && (!leader || leader.stat.session !== sid)) {
      throw new UnsupportedError(`process ${p.pid} is in process group ${pgid}, whose leader is outside the dumped tree`, {
        hint: 'dump from the process group leader (or its ancestor), or use --shell-job for the root\'s own group',
      });
    }
  }
}

export async function dump(opts: DumpOptions): Promise<DumpResult> {
  const log = opts.log ?? silentLogger;
  if (opts.tcpEstablished && opts.tcpClose) throw new InputError('--tcp-established and --tcp-close exclude each other', { hint: 'keep the connections (--tcp-established) or have them come back closed (--tcp-close)' });
  const hook = async (action: HookName, initPid?: number): Promise<void> => {
    await opts.hooks?.({ action, imagesDir: opts.imagesDir, initPid });
  };
  mkdirSync(opts.imagesDir, { recursive: true });
  await hook('pre-dump', opts.pid);
  opts.signal?.throwIfAborted();

  // Load the image schemas before freezing: parsing the .proto files takes longer than a
  // small dump and would all be frozen time.
  hasMessage('core_entry');
  // --leave-running without hooks lets the tasks go before the pages' hashes are done (the
  // manifest still comes before success is reported); a post-dump hook sees a complete dump.
  const earlyRelease = (opts.leaveRunning ?? false) && !opts.hooks;
  const anon = treeAnonBytes(opts.pid);
  // Its pages written from snapshots forked while frozen (CRYO_SNAPSHOT=0, tests: not)…
  const snapshots = earlyRelease && process.env.CRYO_SNAPSHOT !== '0';
  // …or, for the first process when it can't be snapshot for shared memory, into a pages image
  // made ready now, for pages to be copied straight into it while frozen…
  const stageSize = earlyRelease && (!snapshots || hasSharedAnonymous(opts.pid)) ? stageBytes(anon) : 0;
  // …or else written by a large task itself, hashed by a worker per core (see dumpMemory).
  const hashWorker = !stageSize && taskWritesPages(anon) ? 'pieces' : 'ring';
  const images = new ImageWriter(opts.imagesDir, { hashWorker, rawBytes: anon, copyAhead: earlyRelease });
  // Letting the tasks go early: their images are encoded once they run again.
  if (earlyRelease) images.deferWrites();
  const tStage = performance.now();
  const stage = stageSize ? images.prepareRaw(stageSize) : undefined;
  if (stage) log.debug(`pages image of ${(stageSize / 2 ** 20).toFixed(0)} MiB prepared in ${(performance.now() - tStage).toFixed(0)} ms`);
  const t0 = performance.now();
  let tree: FrozenTree;
  try {
    tree = seizeTree(opts.pid, log);
  } catch (e) {
    // Nothing frozen (seizeTree lets go of what it took): only the prepared image and the hash worker to drop.
    stage?.discard();
    images.abort();
    throw e;
  }
  const tFrozen = performance.now();
  const pids = tree.processes.map((p) => p.pid);
  log.info(`frozen ${pids.length} process(es), ${tree.seized.size} thread(s) in ${(tFrozen - t0).toFixed(1)} ms`);
  const inet = new InetDumpState(opts.pid, opts);
  const snapshotPlan = snapshots ? new SnapshotPlan(tree) : undefined;
  let released = false;
  const remotes = new Map<number, RemoteProcess>();
  const release = (final: 'running' | 'stopped' | 'killed'): void => {
    if (released) return;
    released = true;
    releaseScratch(remotes, final, log);
    releaseThreads(tree.seized, final, pids, opts.reapKilled ?? true);
  };
  try {
    faultPoint('seized');
    checkSessions(tree, opts.shellJob ?? false);
    const ids = new IdAllocator();
    const kobj = new KobjIds(ids);
    const ctx: DumpContext = {
      images,
      imagesDir: opts.imagesDir,
      log,
      xsave: xsaveLayout(),
      ghostLimit: opts.ghostLimit ?? GHOST_LIMIT,
      extUnixSk: opts.extUnixSk ?? false,
      shellJob: opts.shellJob,
      fileIds: new IdAllocator(),
      pagesIds: new IdAllocator(),
      files: [],
      regIds: new Map(),
      remaps: [],
      ghosts: new Map(),
      shmemDumped: new Set(),
      cgroupSets: new Map(),
      pipeData: new Map(),
      descriptions: new Map(),
      fifoData: new Map(),
      memfdInodes: new Map(),
      fileLocks: opts.fileLocks ?? false,
      locks: [],
      stats: { memdump_us: 0, memwrite_us: 0, pages_scanned: 0, pages_written: 0 },
      onProgress: opts.onProgress && ((done, total) => opts.onProgress!({ phase: 'dump', pagesDone: done, pagesTotal: total })),
      inet,
      stage,
      snapshots: snapshotPlan,
      remotes,
    };
    const rootIds = kobj.root();
    const pstree: Entry[] = [];
    const fdTablesDumped = new Set<number>();
    for (const proc of tree.processes) {
      opts.signal?.throwIfAborted();
      pstree.push({ pid: proc.pid, ppid: proc.pid === tree.root ? 0 : proc.stat.ppid, pgid: proc.stat.pgrp, sid: proc.stat.session, threads: proc.tids });
      if (proc.zombie) {
        images.write('CORE', [zombieCore(proc)], { id: proc.pid });
        log.debug(`${proc.pid}: zombie, exit status ${proc.stat.exitCode}`);
        continue;
      }
      const taskIds = kobj.task(proc.pid);
      const injected = inject(ctx, tree, proc.pid);
      snapshotPlan?.noteSubreaper(proc.pid, injected.subreaper);
      // Its mappings are final now (but inject's scratch area, left out): its pages are found meanwhile.
      const scanning = startFindingPages(proc.pid);
      log.debug(`${proc.pid}: task state collected`);
      faultPoint('collected');
      if (proc.stopped) Object.assign(injected.cores.get(proc.pid)!.tc as Entry, { task_state: TASK.STOPPED, stop_signo: SIG.SIGSTOP });
      (injected.cores.get(proc.pid)!.tc as Entry).cg_set = cgroupSetOf(ctx, proc.pid);
      for (const [tid, core] of injected.cores) images.write('CORE', [core], { id: tid });
      images.write('IDS', [taskIds], { id: proc.pid });
      // Processes sharing an fd table (CLONE_FILES) share one fdinfo image.
      if (!fdTablesDumped.has(taskIds.files_id)) {
        const table = dumpFds(ctx, proc, taskIds.files_id);
        dumpFileLocks(ctx, proc, table);
        fdTablesDumped.add(taskIds.files_id);
      }
      await inet.afterLock(hook);
      dumpFs(ctx, proc.pid);
      log.debug(`${proc.pid}: fds dumped`);
      faultPoint('fds');
      opts.signal?.throwIfAborted();
      await dumpMemory(ctx, proc, injected, scanning);
      log.debug(`${proc.pid}: memory dumped (${ctx.stats.pages_written} pages)`);
      faultPoint('memory');
    }
    // Asked to stop (SIGINT, SIGTERM) during the long memory dump: still in time to let the tasks
    // go. Through the event loop's poll phase first (two check phases), for the handler to run.
    if (opts.signal) for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    opts.signal?.throwIfAborted();
    writeFileImages(ctx);
    const rootCgSet = cgroupSetOf(ctx, process.pid);
    writeCgroups(ctx);
    writeSysvShm(ctx, rootIds.ipc_ns_id);
    faultPoint('images');
    writePipeData(ctx);
    writeFifoData(ctx);
    writeMemfdInodes(ctx);
    writeFileLocks(ctx);
    images.write('PSTREE', pstree);
    const frozenEarly = us(performance.now() - tFrozen);
    if (earlyRelease) {
      await inet.finish('running', hook, log);
      release('running');
      // The prepared image gets its name and size, and is hashed, now that the tasks run.
      stage?.adopt();
      images.writeDeferred();
      writeSnapshotPages(ctx);
    }
    const stats: DumpStats = {
      freezing_time: us(tFrozen - t0),
      frozen_time: earlyRelease ? frozenEarly : us(performance.now() - tFrozen),
      memdump_time: ctx.stats.memdump_us,
      memwrite_time: ctx.stats.memwrite_us,
      pages_scanned: ctx.stats.pages_scanned,
      pages_skipped_parent: 0,
      pages_written: ctx.stats.pages_written,
      image_bytes: 0,
    };
    images.writeStats('dump', criuDumpStats(stats));
    // The inventory goes last: with the manifest it marks a complete dump.
    images.write('INVENTORY', [{ img_version: 2, fdinfo_per_id: true, root_ids: rootIds, ns_per_id: true, lsmtype: 0, network_lock_method: inet.networkLockMethod, root_cg_set: rootCgSet, ...(opts.tcpClose ? { tcp_close: true } : {}) }]);
    await images.settle();
    images.finish();
    log.debug('images written');
    try {
      await hook('post-dump', opts.pid);
    } catch (e) {
      // CRIU: a failing post-dump script resumes the tasks and fails the dump.
      throw e instanceof HookError ? e : new HookError(`post-dump hook failed: ${(e as Error).message}`, { cause: e });
    }
    const final = opts.leaveRunning ? 'running' : opts.leaveStopped ? 'stopped' : 'killed';
    const frozenUs = earlyRelease ? frozenEarly : us(performance.now() - tFrozen);
    if (!earlyRelease) {
      await inet.finish(final, hook, log);
      release(final);
    }
    const result: DumpResult = { imagesDir: opts.imagesDir, pids, final, stats: { ...stats, frozen_time: frozenUs, image_bytes: imageDirSize(opts.imagesDir) } };
    log.info(`Dumping finished successfully`);
    return result;
  } catch (e) {
    // Connections out of repair mode and unlocked while the task is still frozen.
    await inet.finish('failed', hook, log);
    release('running');
    if (snapshotPlan) dropSnapshots(snapshotPlan);
    stage?.discard();
    images.abort();
    logFailure(log, 'Dumping FAILED', e);
    // A cancelled dump (Ctrl-C) is reported as such; anything not ours is wrapped with the pid.
    if (!(e instanceof CryoError) && !(e instanceof Error && e.name === 'AbortError')) {
      throw new RuntimeError(`dump of ${opts.pid} failed: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
}
