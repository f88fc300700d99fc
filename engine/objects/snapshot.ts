// A copy-on-write snapshot of a frozen task's memory, for --leave-running: a process forked from
// the task while it is frozen holds its private memory as it was at that instant, so the task
// can be let go once its pages are found, and its pages are written from the snapshot afterwards
// (frozen for the fork and its page-table copy, ~12 ms at 512 MiB and ~35 ms at 2 GiB, instead
// of for copying the pages).
//
// The fork must leave no trace in the task. The task forks C (exit signal 0: no SIGCHLD, and a
// child only wait(__WALL) sees), traced from birth so that it runs none of the task's code. C
// closes every fd, leaves the task's session, blocks all signals, and clones G sharing its memory
// (no second copy); C is killed — its memory lives on in G — and the task, still frozen, reaps it.
// G is an orphan outside the task's session: cryo reads its memory, then kills it; whoever
// reaps orphans (init, or a subreaper above the tree) reaps it.
import { NR, PTRACE_O, SIG, setOptions, waitTask } from '../../native/index.ts';
import { RuntimeError } from '../../errors.ts';
import type { DumpContext } from '../context.ts';
import { killPoint } from '../faults.ts';
import type { FrozenProcess, FrozenTree } from '../tree.ts';
import type { PageRun } from './task-pages.ts';
import { memoryHeadroom, readMeminfo, readStatus } from '../proc/index.ts';
import { checkBirthStop, RemoteProcess } from '../remote.ts';
import { DUMP_PTRACE_OPTIONS, killTraced } from '../tree.ts';

const CLONE_VM = 0x100;
const WALL = 0x40000000;
/** Memory (cgroup room, available memory) kept free beyond the copies the task's writes may make. */
const CGROUP_MARGIN = 64 << 20;

/** A process's pages image, to be written from its snapshot once the tasks run again. */
export interface DeferredPages {
  readonly pid: number;
  readonly snapshot: number;
  readonly name: string;
  readonly runs: readonly PageRun[];
  readonly bytes: number;
  /** Time spent finding the pages while frozen (memdump_time). */
  readonly planMs: number;
}

/** The snapshots of a --leave-running dump, and which of the tree's processes are subreapers. */
export class SnapshotPlan {
  readonly deferred: DeferredPages[] = [];
  readonly #byPid: ReadonlyMap<number, FrozenProcess>;
  readonly #subreapers = new Map<number, boolean>();

  constructor(tree: FrozenTree) {
    this.#byPid = new Map(tree.processes.map((p) => [p.pid, p]));
  }

  /** What the dump's injection found (PR_GET_CHILD_SUBREAPER): a process is injected before its children. */
  noteSubreaper(pid: number, subreaper: boolean): void {
    this.#subreapers.set(pid, subreaper);
  }

  /** Whether `proc` or one of its dumped ancestors is a child subreaper. */
  subreaper(proc: FrozenProcess): boolean {
    for (let p: FrozenProcess | undefined = proc; p && !p.zombie; p = this.#byPid.get(p.stat.ppid)) {
      if (this.#subreapers.get(p.pid)) return true;
    }
    return false;
  }
}

/** VmFlags of mappings a fork would not snapshot: DONTCOPY, WIPEONFORK; userfaultfd-registered (a fork event could block). */
const UNFORKABLE = new Set(['dc', 'wf', 'um', 'uw', 'ui']);

export interface SnapshotVma {
  readonly vmFlags: readonly string[];
  /** Pages of it are dumped. */
  readonly dumped: boolean;
  /** Shared with the task: a fork does not copy it. */
  readonly shared: boolean;
}

/**
 * Why task `pid` (frozen) should not be snapshot for its `bytes` of private pages; undefined
 * when it may. `subreaper`: whether it or a dumped ancestor is a child subreaper (the snapshot,
 * orphaned, would become its child).
 */
export function snapshotRefusal(pid: number, vmas: readonly SnapshotVma[], bytes: number, subreaper: boolean): string | undefined {
  const status = readStatus(pid);
  // A seccomp filter may refuse the fork, or kill the task for it (cryo refuses such tasks
  // today; this stays for when it does not).
  if (status.seccomp !== 0) return 'it has a seccomp filter';
  // The clones' pids come back as the task sees them: only cryo's own pid namespace will do.
  if (status.nsPid.length > 1) return 'it is in a nested pid namespace';
  if (subreaper) return 'it or a dumped ancestor is a child subreaper';
  for (const v of vmas) {
    if (!v.dumped) continue;
    if (v.shared) return 'it has shared memory to dump (a fork shares it)';
    const f = v.vmFlags.find((x) => UNFORKABLE.has(x));
    if (f) return `it has a mapping a fork does not copy (VmFlags ${f})`;
  }
  // The task's writes copy pages while the snapshot lives: charged to its memory cgroup, taken
  // from the machine's free memory.
  const mib = (n: number): number => Math.max(0, Math.floor(n / 2 ** 20));
  const room = memoryHeadroom(pid);
  if (room < bytes + CGROUP_MARGIN) return `its memory cgroup has ${mib(room)} MiB left, copies of its ${Math.ceil(bytes / 2 ** 20)} MiB may be needed`;
  const available = readMeminfo()['MemAvailable'] ?? 0;
  if (available < bytes + CGROUP_MARGIN) return `the machine has ${mib(available)} MiB available, copies of its ${Math.ceil(bytes / 2 ** 20)} MiB may be needed`;
  return undefined;
}

/**
 * Forks frozen task `pid` into a snapshot of its memory (see the top of this file); returns the
 * snapshot's pid, a traced and stopped process. On failure the task is as it was (no child left,
 * its registers and ptrace options back) and the error is thrown.
 */
export function takeSnapshot(ctx: DumpContext, pid: number): number {
  const t0 = performance.now();
  // The task's injection, its scratch area and guard code mapped since inject() (dump.ts).
  const rp = ctx.remotes.get(pid);
  if (!rp) throw new RuntimeError(`task ${pid} has no scratch area to fork from`);
  const stopSignal = rp.leader.guard?.stopSignal ?? 0;
  let c = 0;
  let cTraced = false;
  let g = 0;
  let reaped = false;
  try {
    // Both clones are made at the guard code's clone entry in the task's scratch area (which C
    // and G inherit): each child starts at its exit, so that if cryo dies before it is killed and
    // it runs, it only exits.
    // The children are traced from birth, with these options, so that neither runs a thing.
    setOptions(pid, DUMP_PTRACE_OPTIONS | PTRACE_O.TRACECLONE | PTRACE_O.TRACEFORK);
    try {
      const r = rp.leader.rawClone(NR.clone, 0, 0, 0, 0, 0);
      if (r < 0n) throw new RuntimeError(`task ${pid} could not fork its copy: errno ${-r}`);
      c = Number(r);
    } finally {
      setOptions(pid, DUMP_PTRACE_OPTIONS);
    }
    // Ours from here (waitpid answered for it): only then is it killed on failure.
    const cBorn = waitTask(c);
    cTraced = true;
    checkBirthStop(cBorn, c, 'forked copy');
    // C was born with the injection's mask (all signals blocked), which G inherits. Its calls run
    // through its copy of the guard code, its way back its birth state (at its exit): the task's
    // scratch, copied, so that the snapshot's own pages are not touched.
    const cp = new RemoteProcess(c, rp.leader.syscallIp, { guarded: true });
    cp.scratch = rp.scratch;
    cp.useGuardCode(stopSignal);
    cp.leader.call('close_range', NR.close_range, 0, 0xffffffff, 0);
    cp.leader.call('setsid', NR.setsid);
    killPoint('snapshot-copy');
    const gRaw = cp.leader.rawClone(NR.clone, CLONE_VM | SIG.SIGCHLD, 0, 0, 0, 0);
    if (gRaw < 0n) throw new RuntimeError(`the forked copy ${c} could not clone the snapshot: errno ${-gRaw}`);
    const gPid = Number(gRaw);
    const gBorn = waitTask(gPid);
    g = gPid;
    checkBirthStop(gBorn, g, 'snapshot');
    killTraced([c]);
    const got = rp.leader.call('wait4', NR.wait4, c, 0, WALL, 0);
    if (Number(got) !== c) throw new RuntimeError(`task ${pid} reaped ${got}, not its forked copy ${c}`);
    reaped = true;
    ctx.log.debug(`${pid}: memory snapshot ${g} forked in ${(performance.now() - t0).toFixed(1)} ms (its copy ${c} reaped by the task)`);
    return g;
  } catch (e) {
    if (g) dropSnapshot(g);
    if (cTraced && !reaped) {
      killTraced([c]);
      rp.leader.raw(NR.wait4, c, 0, WALL, 0);
    }
    throw e;
  } finally {
    rp.restoreAll();
  }
}

/** Kills a snapshot and waits until it is gone (its memory freed). */
export function dropSnapshot(pid: number): void {
  killTraced([pid]);
}

/** Drops the snapshots whose pages were not written (a failed dump). */
export function dropSnapshots(plan: SnapshotPlan): void {
  for (const d of plan.deferred.splice(0)) dropSnapshot(d.snapshot);
}
