// The address space: VMAs and mm fields (mm-PID.img), page contents (pagemap-PID.img +
// pages-N.img). At dump a large process writes its own pages into the image (task-pages.ts), a
// small one's cryo reads in large batches with process_vm_readv; restore has the task read its
// own pages from the pages image with injected preadv, straight into place, cryo writing half of
// a large one's meanwhile.
import { closeSync, openSync, readSync } from 'node:fs';
import {
  IOV_MAX,
  MAP,
  MREMAP,
  NR,
  O,
  PAGE_SIZE,
  PROT,
  PR,
  PR_SET_MM_MAP,
  mapFile,
  writeRangesInBackground,
  type MappedFile,
  type RemoteRange,
} from '../../native/index.ts';
import { RuntimeError, UnsupportedError } from '../../errors.ts';
import type { DumpContext, RestoreContext, RestoreTask } from '../context.ts';
import type { FrozenProcess } from '../tree.ts';
import { presentRuns, readAuxv, readExeLink, readMaps, readMeminfo, readPagemap, readProcessChildren, readSmaps, readStatusMemory, runsInVma, scanPagemapInBackground, SCAN_END, withoutArea, type PageRun, type ScannedRun, type SmapsEntry, type Vma } from '../proc/index.ts';
import { RAW_BUFFER_BYTES, type PreparedRawImage } from '../images/index.ts';
import { IOV_OFF, IOVS_PER_CALL, SCRATCH_SIZE, type BatchedCall } from '../remote.ts';
import { copyRanges, taskWriteRefusal, taskWritesPages, writePagesByTask, type PageRun as TaskPageRun } from './task-pages.ts';
import { closeCryoPidfd, installFd } from './fd-kind.ts';
import { internLinked, internMappedGhost, internRegFile, openInTask, regFilePath } from './files.ts';
import { attachSysvShm, collectSysvShm } from './sysv-shm.ts';
import { dropSnapshot, snapshotRefusal, takeSnapshot, type DeferredPages, type SnapshotPlan } from './snapshot.ts';
import { dumpMappedShmem, sharedMemory } from './shmem.ts';
import { memfdInodeFd, memfdOfShmid } from './memfd.ts';

type Entry = Record<string, any>;

// VMA status bits (CRIU's image.h)
export const VMA = {
  AREA_REGULAR: 1 << 0,
  AREA_STACK: 1 << 1,
  AREA_VSYSCALL: 1 << 2,
  AREA_VDSO: 1 << 3,
  AREA_HEAP: 1 << 5,
  FILE_PRIVATE: 1 << 6,
  FILE_SHARED: 1 << 7,
  ANON_SHARED: 1 << 8,
  ANON_PRIVATE: 1 << 9,
  AREA_SYSVIPC: 1 << 10,
  AREA_VVAR: 1 << 12,
  AREA_MEMFD: 1 << 14,
} as const;

export const PE = { PARENT: 1, LAZY: 2, PRESENT: 4 } as const;

const MADV_BY_VMFLAG: Readonly<Record<string, number>> = {
  dc: 10, // MADV_DONTFORK
  dd: 16, // MADV_DONTDUMP
  wf: 18, // MADV_WIPEONFORK
  hg: 14, // MADV_HUGEPAGE
  nh: 15, // MADV_NOHUGEPAGE
  mg: 12, // MADV_MERGEABLE
};

const PAGE = BigInt(PAGE_SIZE);
const VVAR_PATHS = new Set(['[vvar]', '[vvar_vclock]']);

function isSpecial(v: Vma): boolean {
  return v.path === '[vdso]' || v.path === '[vsyscall]' || VVAR_PATHS.has(v.path);
}

/** How a VMA's pages are dumped: none, only private (anon/COW) pages, or every present page. */
type PagePolicy = 'none' | 'private' | 'all';

interface PlannedVma {
  readonly entry: Entry;
  readonly vma: SmapsEntry;
  readonly pages: PagePolicy;
}

function madvOf(v: SmapsEntry): bigint {
  let m = 0n;
  for (const f of v.vmFlags) {
    const bit = MADV_BY_VMFLAG[f];
    if (bit !== undefined) m |= 1n << BigInt(bit);
  }
  return m;
}

function planVma(ctx: DumpContext, pid: number, v: SmapsEntry): PlannedVma {
  let growsdown = 0;
  for (const f of v.vmFlags) {
    if (f === 'gd') growsdown = MAP.GROWSDOWN;
    else if (f === 'ht') throw new UnsupportedError(`${pid}: hugetlb mapping at 0x${v.start.toString(16)} (${v.path})`);
  }
  const madv = madvOf(v);
  // One object literal per VMA (10,000 VMAs pass here while the task is frozen).
  const entry = (flags: number, status: number, pgoff = 0n, shmid = 0n): Entry => {
    const e: Entry = { start: v.start, end: v.end, pgoff, shmid, prot: v.prot, flags, status, fd: -1n };
    if (madv) e.madv = madv;
    return e;
  };
  if (v.path === '[vsyscall]') return { vma: v, pages: 'none', entry: entry(MAP.PRIVATE | MAP.ANONYMOUS, VMA.AREA_VSYSCALL | VMA.ANON_PRIVATE) };
  if (v.path === '[vdso]') return { vma: v, pages: 'none', entry: entry(MAP.PRIVATE | MAP.ANONYMOUS, VMA.AREA_REGULAR | VMA.AREA_VDSO | VMA.ANON_PRIVATE) };
  if (VVAR_PATHS.has(v.path)) return { vma: v, pages: 'none', entry: entry(MAP.PRIVATE | MAP.ANONYMOUS, VMA.AREA_REGULAR | VMA.AREA_VVAR | VMA.ANON_PRIVATE) };
  if (v.path.startsWith('/SYSV') && v.shared) {
    // SysV shared memory: the segment is dumped once by sysv-shm.ts and re-attached, no pages here
    // (checked first: the inode is the shmid, and shmid 0 exists).
    return { vma: v, pages: 'none', entry: entry(MAP.SHARED, VMA.AREA_REGULAR | VMA.ANON_SHARED | VMA.AREA_SYSVIPC, v.offset, BigInt(v.inode)) };
  }
  const anonymous = v.inode === 0;
  if (anonymous) {
    if (v.shared) {
      // Shared anonymous memory of one process: dumped with its pages, re-created shared.
      return { vma: v, pages: 'all', entry: entry(MAP.SHARED | MAP.ANONYMOUS | growsdown, VMA.AREA_REGULAR | VMA.ANON_SHARED, v.offset, BigInt(v.inode)) };
    }
    const heap = v.path === '[heap]' ? VMA.AREA_HEAP : 0;
    return { vma: v, pages: 'private', entry: entry(MAP.PRIVATE | MAP.ANONYMOUS | growsdown, VMA.AREA_REGULAR | VMA.ANON_PRIVATE | heap) };
  }
  if (v.path.startsWith('/dev/zero') || v.path.startsWith('/SYSV') || v.path.startsWith('/memfd:')) {
    if (!v.shared) return { vma: v, pages: 'private', entry: entry(MAP.PRIVATE | MAP.ANONYMOUS | growsdown, VMA.AREA_REGULAR | VMA.ANON_PRIVATE) };
    // Shared anonymous memory (a /dev/zero mapping, MAP_SHARED|MAP_ANONYMOUS, or a memfd — which is
    // how cryo itself restores shared anonymous memory): one shmem object per inode, shared by
    // every process that maps it. Its pages are dumped once from the object itself (shmem.ts),
    // not from this process's page tables, which lack the pages only other (or exited) processes
    // touched.
    if (v.path.startsWith('/dev/zero') || v.path.startsWith('/memfd:')) {
      dumpMappedShmem(ctx, pid, v);
      return { vma: v, pages: 'none', entry: entry(MAP.SHARED | MAP.ANONYMOUS, VMA.AREA_REGULAR | VMA.ANON_SHARED, v.offset, BigInt(v.inode)) };
    }
    throw new UnsupportedError(`${pid}: shared mapping of ${v.path} at 0x${v.start.toString(16)}`, { hint: 'this kind of shared mapping is not supported yet' });
  }
  const fdflags = v.shared && v.prot & PROT.WRITE ? O.RDWR : O.RDONLY;
  // A deleted file (a POSIX semaphore or shm_open() object unlinked after mmap) is saved as a ghost.
  const id = v.deleted ? internMappedGhost(ctx, pid, v) : internRegFile(ctx, pid, v.path, { mapped: true });
  const e = entry((v.shared ? MAP.SHARED : MAP.PRIVATE) | growsdown, VMA.AREA_REGULAR | (v.shared ? VMA.FILE_SHARED : VMA.FILE_PRIVATE), v.offset, BigInt(id));
  e.fdflags = fdflags;
  return { vma: v, pages: v.shared ? 'none' : 'private', entry: e };
}

interface PageRunPlan {
  readonly vaddr: bigint;
  readonly nrPages: number;
  readonly readable: boolean;
  readonly flags: number;
}

// VMAs whose pagemap is read at once: at most this far apart (bytes of address space; 1 MiB of
// gap = 2 KiB of pagemap read for nothing) and this far from the first one's start (8 MiB of entries).
const PAGEMAP_GAP = 1n << 20n;
const PAGEMAP_SPAN = 4n << 30n;

/** The runs of each of `paged` (sorted) in a scan of the whole user address space. */
async function pagesFromScan(pid: number, paged: readonly PlannedVma[], scanned: readonly ScannedRun[]): Promise<PageRun[][]> {
  const found: PageRun[][] = [];
  let next = 0;
  for (const p of paged) {
    const privateOnly = p.pages === 'private';
    if (p.vma.end <= SCAN_END) {
      const r = runsInVma(scanned, next, p.vma.start, p.vma.end, privateOnly);
      next = r.next;
      found.push(r.runs);
    } else {
      // Above 47 bits (5-level paging): outside the scan, scanned on its own.
      found.push(runsInVma((await scanPagemapInBackground(pid, p.vma.start, p.vma.end)) ?? [], 0, p.vma.start, p.vma.end, privateOnly).runs);
    }
  }
  return found;
}

/**
 * The runs of each of `paged`, on a kernel without PAGEMAP_SCAN: one pagemap read for each group
 * of VMAs close together (thousands of small neighbouring VMAs cost one read, not one each).
 */
function pagesFromPagemap(ctx: DumpContext, pid: number, paged: readonly PlannedVma[]): PageRun[][] {
  ctx.log.debug(`${pid}: no PAGEMAP_SCAN: its pages are found by reading /proc/${pid}/pagemap`);
  const found: PageRun[][] = [];
  const pmFd = openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    for (let i = 0; i < paged.length; ) {
      const start = paged[i]!.vma.start;
      let end = paged[i]!.vma.end;
      let j = i + 1;
      for (; j < paged.length; j++) {
        const v = paged[j]!.vma;
        if (v.start - end > PAGEMAP_GAP || v.end - start > PAGEMAP_SPAN) break;
        end = v.end;
      }
      const all = readPagemap(pid, start, end, pmFd);
      for (; i < j; i++) {
        const { vma, pages } = paged[i]!;
        const from = Number((vma.start - start) / PAGE);
        found.push(presentRuns(all.subarray(from, from + Number((vma.end - vma.start) / PAGE)), vma.start, pages === 'private'));
      }
    }
  } finally {
    closeSync(pmFd);
  }
  return found;
}

/**
 * Starts finding task `pid`'s pages with PAGEMAP_SCAN on libuv's pool, over its whole user
 * address space, for dumpMemory: the kernel's walk of its page tables (5 ms at 512 MiB, 17 ms at
 * 2 GiB) runs while cryo dumps its fds and reads its smaps (itself a walk as long). Called once
 * its mappings are final (but inject()'s scratch area, whose pages dumpMemory leaves out with its
 * VMA). Undefined without PAGEMAP_SCAN.
 */
export function startFindingPages(pid: number): Promise<ScannedRun[]> | undefined {
  const pending = scanPagemapInBackground(pid, 0n, SCAN_END);
  pending?.catch(() => {}); // a dump that fails before dumpMemory never awaits it
  return pending;
}

/**
 * mm entry, pagemap entries and pages of one task; pages go straight to pages-N.img. `scanning`
 * from startFindingPages(): undefined without PAGEMAP_SCAN, and the pagemap is read here.
 */
export async function dumpMemory(ctx: DumpContext, proc: FrozenProcess, asked: { brk: bigint; dumpable: number; thpDisabled: boolean }, scanning: Promise<ScannedRun[]> | undefined): Promise<void> {
  const { pid, stat } = proc;
  // Cryo's scratch area, still mapped in the task (inject() in dump.ts), is not the task's.
  const scratch = ctx.remotes.get(pid)?.scratch;
  const vmas = scratch ? withoutArea(readSmaps(pid), scratch, scratch + BigInt(SCRATCH_SIZE)) : readSmaps(pid);
  const planned = vmas.map((v) => planVma(ctx, pid, v));
  collectSysvShm(ctx, pid, planned.filter((p) => p.entry.status & VMA.AREA_SYSVIPC).map((p) => p.entry));
  // A binary deleted (or replaced by an upgrade) while it runs is saved as a ghost, as its mappings are.
  const exeId = internLinked(ctx, pid, readExeLink(pid), 'exe');
  const mm: Entry = {
    mm_start_code: stat.startCode,
    mm_end_code: stat.endCode,
    mm_start_data: stat.startData,
    mm_end_data: stat.endData,
    mm_start_stack: stat.startStack,
    mm_start_brk: stat.startBrk,
    mm_brk: asked.brk,
    mm_arg_start: stat.argStart,
    mm_arg_end: stat.argEnd,
    mm_env_start: stat.envStart,
    mm_env_end: stat.envEnd,
    exe_file_id: exeId,
    mm_saved_auxv: readAuxv(pid),
    vmas: planned.map((p) => p.entry),
    dumpable: asked.dumpable,
    thp_disabled: asked.thpDisabled,
  };
  ctx.images.write('MM', [mm], { id: pid });

  const t0 = performance.now();
  const paged = planned.filter((p) => p.pages !== 'none');
  for (const p of paged) ctx.stats.pages_scanned += Number((p.vma.end - p.vma.start) / PAGE);
  const found = scanning ? await pagesFromScan(pid, paged, await scanning) : pagesFromPagemap(ctx, pid, paged);
  const runs: PageRunPlan[] = [];
  for (const [i, p] of paged.entries()) {
    const flags = p.entry.status & VMA.ANON_PRIVATE ? PE.LAZY | PE.PRESENT : PE.PRESENT;
    for (const r of found[i]!) runs.push({ vaddr: r.vaddr, nrPages: r.nrPages, readable: (p.vma.prot & PROT.READ) !== 0, flags });
  }
  const pagesId = ctx.pagesIds.next();
  const pagemap: Entry[] = [{ pages_id: pagesId }];
  for (const r of runs) pagemap.push({ vaddr: r.vaddr, compat_nr_pages: r.nrPages, nr_pages: BigInt(r.nrPages), flags: r.flags });
  const total = runs.reduce((s, r) => s + r.nrPages, 0);

  const name = `pages-${pagesId}.img`;
  const bytes = total * PAGE_SIZE;
  ctx.images.write('PAGEMAP', pagemap, { id: pid });
  ctx.stats.pages_written += total;
  const planMs = performance.now() - t0;
  const prepared = ctx.stage?.claim(name) ? ctx.stage : undefined;
  // --leave-running: the pages are written after the release, from a snapshot forked now.
  if (ctx.snapshots && !prepared && bytes > 0 && deferToSnapshot(ctx, ctx.snapshots, proc, paged, found, { pid, name, runs, bytes, planMs })) return;
  writePages(ctx, pid, name, runs, bytes, planMs, prepared);
}

/**
 * Forks frozen `proc` into a snapshot of its memory (objects/snapshot.ts) and leaves `pages` to be
 * written from it once the tasks run again (writeSnapshotPages). False, with the task as it was,
 * when it can't be snapshot (the log says why): its pages are then copied while it is frozen.
 */
function deferToSnapshot(ctx: DumpContext, plan: SnapshotPlan, proc: FrozenProcess, paged: readonly PlannedVma[], found: readonly PageRun[][], pages: Omit<DeferredPages, 'snapshot'>): boolean {
  const { pid } = proc;
  const vmas = paged.map((p, i) => ({ vmFlags: p.vma.vmFlags, dumped: found[i]!.length > 0, shared: p.pages === 'all' }));
  let why = snapshotRefusal(pid, vmas, pages.bytes, plan.subreaper(proc));
  if (!why) {
    try {
      plan.deferred.push({ ...pages, snapshot: takeSnapshot(ctx, pid) });
      return true;
    } catch (e) {
      why = (e as Error).message;
    }
  }
  ctx.log.debug(`${pid}: no memory snapshot: ${why}; its pages are copied while it is frozen`);
  return false;
}

/**
 * Writes the pages image `name` of `runs`, read from process `source` (the task, or its
 * snapshot): into `prepared` (--leave-running, the image made ready before the freeze), or a
 * large one by the process itself, else copied by cryo. `planMs`: time spent finding the pages,
 * counted in memdump_time.
 */
function writePages(ctx: DumpContext, source: number, name: string, runs: readonly TaskPageRun[], bytes: number, planMs: number, prepared?: PreparedRawImage): void {
  const total = bytes / PAGE_SIZE;
  const t0 = performance.now() - planMs;
  // Large and not prepared: the task writes its pages into the image itself (one copy, not two).
  if (!prepared && taskWritesPages(bytes)) {
    const refused = taskWriteRefusal(source, bytes);
    if (refused) ctx.log.debug(`${source}: cryo copies the pages: ${refused}`);
    else if (writePagesByTask(ctx, source, name, runs, bytes, planMs)) return;
  }
  // Else cryo copies the pages: batches of one buffer of the image (4 MiB), one process_vm_readv
  // and one write each; the image's worker thread hashes each batch meanwhile. A --leave-running
  // dump reads the first process's pages straight into its image, prepared before the freeze.
  const out = prepared ? undefined : ctx.images.openRaw(name, { expectedBytes: bytes });
  try {
    const spare = prepared ? Buffer.allocUnsafe(RAW_BUFFER_BYTES) : undefined;
    const batchMax = out?.buffer().length ?? RAW_BUFFER_BYTES;
    let done = 0;
    let readMs = performance.now() - t0;
    let writeMs = 0;
    let batch: RemoteRange[] = [];
    let batchBytes = 0;
    const flush = (): void => {
      if (!batchBytes) return;
      const t1 = performance.now();
      const into = prepared?.take(batchBytes);
      const buf = into ?? spare ?? out!.buffer();
      copyRanges(source, buf, batch);
      const t2 = performance.now();
      if (out) out.write(buf.subarray(0, batchBytes));
      else if (!into) prepared!.append(buf.subarray(0, batchBytes)); // the prepared file was too small
      const t3 = performance.now();
      readMs += t2 - t1;
      writeMs += t3 - t2;
      done += batchBytes / PAGE_SIZE;
      ctx.onProgress?.(done, total);
      batch = [];
      batchBytes = 0;
    };
    for (const r of runs) {
      let vaddr = r.vaddr;
      let left = r.nrPages * PAGE_SIZE;
      while (left > 0) {
        const len = Math.min(left, batchMax - batchBytes);
        batch.push({ addr: vaddr, len });
        batchBytes += len;
        vaddr += BigInt(len);
        left -= len;
        if (batchBytes === batchMax || batch.length >= IOV_MAX * 16) flush();
      }
    }
    flush();
    ctx.stats.memdump_us += Math.round(readMs * 1000);
    ctx.stats.memwrite_us += Math.round(writeMs * 1000);
  } finally {
    // A prepared image is adopted (or discarded) by the dump once the tasks run again.
    out?.close();
  }
}

/**
 * --leave-running, once the tasks run again: writes the pages images of the processes that were
 * snapshot (dumpMemory), each from its snapshot, which is then dropped.
 */
export function writeSnapshotPages(ctx: DumpContext): void {
  const deferred = ctx.snapshots?.deferred ?? [];
  while (deferred.length) {
    const d = deferred[0]!;
    try {
      const t0 = performance.now();
      writePages(ctx, d.snapshot, d.name, d.runs, d.bytes, d.planMs);
      ctx.log.debug(`${d.pid}: ${d.name} written from its snapshot ${d.snapshot} (${d.bytes} bytes, ${(performance.now() - t0).toFixed(1)} ms)`);
    } finally {
      dropSnapshot(d.snapshot);
      deferred.shift();
    }
  }
}

/**
 * --leave-running, before the freeze: whether `pid` has shared memory without an inode, whose
 * pages come from its own page tables and which a snapshot can't hold (a fork shares it) — they
 * will be copied while frozen, into a pages image prepared for them. (MAP_SHARED|MAP_ANONYMOUS,
 * /dev/zero and memfd objects have an inode and are read from the object while frozen: shmem.ts.)
 */
export function hasSharedAnonymous(pid: number): boolean {
  try {
    return readMaps(pid).some((v) => v.shared && v.inode === 0);
  } catch {
    return false; // gone: the dump will say so
  }
}

/** Below this, a prepared pages image is not worth its set-up. */
const STAGE_MIN = 16 * 1024 * 1024;

/**
 * --leave-running: how large a pages image to prepare before freezing a tree (see
 * ImageWriter.prepareRaw), from the anonymous memory `anon` of its processes now, with room for what
 * they touch before the freeze; 0 when too small to pay off. What doesn't fit is written after
 * it while frozen, as without one; what is left over is cut off.
 * CRYO_STAGE_BYTES (tests) sets the size, to exercise a prepared image too small for the dump.
 */
export function stageBytes(anon: number): number {
  const forced = Number(process.env.CRYO_STAGE_BYTES);
  if (forced > 0) return Math.ceil(forced / PAGE_SIZE) * PAGE_SIZE;
  // Page cache the image needs anyway, but not more than a quarter of what the machine has free.
  const want = Math.min(Math.ceil((anon * 1.05) / PAGE_SIZE) * PAGE_SIZE + STAGE_MIN, Math.floor((readMeminfo()['MemAvailable'] ?? 0) / 4 / PAGE_SIZE) * PAGE_SIZE);
  return want >= 2 * STAGE_MIN ? want : 0;
}

/** Resident anonymous memory of `root` and its descendants now (before the freeze). */
export function treeAnonBytes(root: number): number {
  let anon = 0;
  const visit = (pid: number): void => {
    try {
      anon += readStatusMemory(pid)['RssAnon'] ?? 0;
      for (const child of readProcessChildren(pid)) visit(child);
    } catch {
      /* gone meanwhile: the dump will say so */
    }
  };
  visit(root);
  return anon;
}

/** ---- restore ---- */

/** An address range free in both the dumped layout and the helper's: for the scratch area. */
export function findFreeArea(dumped: readonly Entry[], current: readonly Vma[], size: number): bigint {
  const taken = [...dumped.map((v) => [BigInt(v.start), BigInt(v.end)] as const), ...current.map((v) => [v.start, v.end] as const)].sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
  );
  let at = 0x10000000n; // well above mmap_min_addr, below where binaries load
  for (const [s, e] of taken) {
    if (e <= at) continue;
    if (s >= at + BigInt(size) + PAGE) return at;
    at = ((e + PAGE - 1n) / PAGE) * PAGE + PAGE;
  }
  return at;
}

/** Unmaps everything of the helper's address space but the scratch area and the vDSO/vvar. */
export function clearAddressSpace(task: RestoreTask): void {
  for (const v of readMaps(task.pid)) {
    if (isSpecial(v) || v.start === task.remote.scratch) continue;
    task.remote.leader.call('munmap', NR.munmap, v.start, v.end - v.start);
  }
}

/** Moves [vvar], [vvar_vclock] and [vdso] together to where the dumped task had them. */
export function moveVdso(ctx: RestoreContext, task: RestoreTask, vmas: readonly Entry[]): void {
  const dumpedVdso = vmas.find((v) => v.status & VMA.AREA_VDSO);
  const mine = readMaps(task.pid).filter((v) => v.path === '[vdso]' || VVAR_PATHS.has(v.path));
  const myVdso = mine.find((v) => v.path === '[vdso]');
  if (!dumpedVdso || !myVdso) return;
  const delta = BigInt(dumpedVdso.start) - myVdso.start;
  if (delta === 0n) return;
  if (BigInt(dumpedVdso.end) - BigInt(dumpedVdso.start) !== myVdso.end - myVdso.start) {
    throw new RuntimeError('the vDSO of this kernel differs from the dumped one', { hint: 'restore on the same kernel as the dump' });
  }
  // Move the one whose destination is past the others first, so no move lands on a mapping yet to move.
  const order = [...mine].sort((a, b) => (a.start < b.start ? -1 : 1));
  if (delta > 0n) order.reverse();
  for (const v of order) {
    const len = v.end - v.start;
    const r = task.remote.leader.raw(NR.mremap, v.start, len, len, MREMAP.MAYMOVE | MREMAP.FIXED, v.start + delta);
    if (r < 0n) {
      throw new RuntimeError(`can't move ${v.path} to 0x${(v.start + delta).toString(16)}: errno ${-r}`, {
        hint: r === -1n ? 'the kernel seals the vDSO (CONFIG_MSEAL_SYSTEM_MAPPINGS); cryo check reports this' : undefined,
      });
    }
    // Injection runs through the vDSO's syscall instruction: follow it at once.
    if (v.path === '[vdso]') task.remote.setSyscallIp(task.remote.leader.syscallIp + delta);
  }
  ctx.log.debug(`${task.pid}: vdso moved by ${delta}`);
}

const MAX_PREADV_BYTES = 1 << 30;
const MADV_POPULATE_WRITE = 23; // Linux 5.14
/** Runs of pages from this size on are populated before they are read (one injected syscall each). */
const POPULATE_BYTES = 1 << 20;

/**
 * From this many bytes of pages on, cryo writes half of them while the task reads the other half
 * (below, a second thread is not worth it). CRYO_PARALLEL_FILL_BYTES (tests) lowers it, to have
 * small targets take this path.
 */
function parallelFillBytes(): number {
  const forced = Number(process.env.CRYO_PARALLEL_FILL_BYTES);
  return forced > 0 ? forced : 64 << 20;
}

/** `runs` cut at byte `at` of their concatenation: those before, and those from there on. */
export function splitRuns(runs: readonly RemoteRange[], at: number): [RemoteRange[], RemoteRange[]] {
  const before: RemoteRange[] = [];
  const after: RemoteRange[] = [];
  let off = 0;
  for (const r of runs) {
    if (off + r.len <= at) before.push(r);
    else if (off >= at) after.push(r);
    else {
      before.push({ addr: r.addr, len: at - off });
      after.push({ addr: r.addr + BigInt(at - off), len: off + r.len - at });
    }
    off += r.len;
  }
  return [before, after];
}

/**
 * The task preadv()s `runs` from its fd `pfd` of the pages image, starting at `fileOff`: IOV_MAX
 * ranges (and at most 1 GiB, a read's limit being 2 GiB - 4 KiB) a call. Large runs are faulted
 * in at once first (a third faster than one fault per page inside preadv); an older kernel
 * refuses the advice, and preadv faults them.
 */
function readPagesInTask(task: RestoreTask, pfd: number, pagesPath: string, runs: readonly RemoteRange[], fileOff: number, progress: (bytes: number) => void): void {
  const rp = task.remote;
  const t = rp.leader;
  const iov = Buffer.alloc(IOVS_PER_CALL * 16);
  let n = 0;
  let bytes = 0;
  const flush = (): void => {
    if (!n) return;
    rp.put(IOV_OFF, iov.subarray(0, n * 16));
    const got = t.call('preadv', NR.preadv, pfd, rp.scratch + BigInt(IOV_OFF), n, fileOff, 0);
    if (got !== BigInt(bytes)) throw new RuntimeError(`${pagesPath}: short read of pages (${got} of ${bytes} bytes)`);
    fileOff += bytes;
    progress(bytes);
    n = 0;
    bytes = 0;
  };
  for (const r of runs) {
    let vaddr = r.addr;
    let left = r.len;
    if (left >= POPULATE_BYTES) t.raw(NR.madvise, vaddr, left, MADV_POPULATE_WRITE);
    while (left > 0) {
      const len = Math.min(left, MAX_PREADV_BYTES);
      if (bytes + len > MAX_PREADV_BYTES) flush();
      iov.writeBigUInt64LE(vaddr, n * 16);
      iov.writeBigUInt64LE(BigInt(len), n * 16 + 8);
      n++;
      bytes += len;
      vaddr += BigInt(len);
      left -= len;
      if (n === IOVS_PER_CALL) flush();
    }
  }
  flush();
}

/**
 * cryo writes `len` bytes of the pages image from byte `offset` (page-aligned) to `runs` of task
 * `pid`, from a read-only mapping of the image (the page cache, one copy) on a thread of
 * libuv's pool. Resolves with the bytes written; never rejects.
 */
async function fillInBackground(pid: number, pagesPath: string, offset: number, len: number, runs: readonly RemoteRange[]): Promise<number> {
  let fd = -1;
  let map: MappedFile | undefined;
  try {
    fd = openSync(pagesPath, 'r');
    map = mapFile(fd, len, offset);
    return await writeRangesInBackground(pid, new Uint8Array(map.bytes), runs);
  } catch {
    return 0;
  } finally {
    map?.unmap();
    if (fd >= 0) closeSync(fd);
  }
}

/** Maps every VMA at its address, fills the pages from the image, sets final protections. */
export async function restoreMemory(ctx: RestoreContext, task: RestoreTask, mm: Entry, pagemap: Entry[]): Promise<void> {
  const rp = task.remote;
  const t = rp.leader;
  const all = (mm.vmas ?? []) as Entry[];
  // SysV shared memory is attached by sysv-shm.ts once everything else is in place.
  const vmas = all.filter((v) => !(v.status & VMA.AREA_SYSVIPC));
  const syscalls0 = t.count;
  const head = pagemap[0] as Entry;
  const entries = pagemap.slice(1);
  const hasPages = new Set<Entry>();
  // A VMA gets PROT_WRITE while it is filled when any pagemap run falls inside it.
  let vi = 0;
  const sortedVmas = [...vmas].sort((a, b) => (BigInt(a.start) < BigInt(b.start) ? -1 : 1));
  for (const pe of entries) {
    const va = BigInt(pe.vaddr);
    while (vi < sortedVmas.length && BigInt(sortedVmas[vi]!.end) <= va) vi++;
    const v = sortedVmas[vi];
    if (!v || BigInt(v.start) > va) throw new RuntimeError(`pagemap-${task.pid}.img: pages at 0x${va.toString(16)} outside any VMA`);
    hasPages.add(v);
  }
  const fileFds = new Map<number, number>();
  const anon = new AnonRuns(t);
  for (const v of vmas) {
    if (v.status & (VMA.AREA_VSYSCALL | VMA.AREA_VDSO | VMA.AREA_VVAR)) continue;
    const start = BigInt(v.start);
    const len = BigInt(v.end) - start;
    const prot = Number(v.prot) | (hasPages.has(v) ? PROT.WRITE : 0);
    const flags = (Number(v.flags) & (MAP.SHARED | MAP.PRIVATE | MAP.ANONYMOUS | MAP.GROWSDOWN | MAP.NORESERVE)) | MAP.FIXED;
    let fd = -1;
    if (v.status & VMA.ANON_SHARED) {
      // One memory object per dumped shmem inode, mapped by every process of the tree that had it:
      // the tree's own memfd inode when one of its fds had it open, else a memfd made by cryo.
      const off = BigInt(v.pgoff ?? 0);
      const memfd = memfdOfShmid(ctx, Number(v.shmid));
      const shm = installFd(task, memfd !== undefined ? memfdInodeFd(ctx, task, memfd) : sharedMemory(ctx, BigInt(v.shmid), off + len));
      t.call('mmap', NR.mmap, start, len, prot, (flags & ~MAP.ANONYMOUS) | MAP.SHARED, shm, off);
      t.call('close', NR.close, shm);
      continue;
    }
    if (v.status & (VMA.FILE_PRIVATE | VMA.FILE_SHARED)) {
      const id = Number(v.shmid);
      fd = fileFds.get(id) ?? -1;
      if (fd < 0) {
        if (!ctx.files.get(id)?.reg) throw new RuntimeError(`mm-${task.pid}.img: mapped file id ${id} missing from files.img`);
        fd = openInTask(task, regFilePath(ctx, id), Number(v.fdflags ?? O.RDONLY));
        fileFds.set(id, fd);
      }
    }
    if (fd < 0 && anon.add(start, len, prot, flags)) continue;
    t.call('mmap', NR.mmap, start, len, prot, flags, fd, fd >= 0 ? BigInt(v.pgoff) : 0n);
  }
  anon.flush();
  for (const fd of fileFds.values()) t.call('close', NR.close, fd);
  closeCryoPidfd(task);

  // Pages, in pagemap order: the task preadv()s them from pages-N.img straight into place; for a
  // large image cryo meanwhile writes the second half itself from the page cache, on another
  // thread, so both CPUs fill memory (the copy and the page faults are the cost).
  const pagesPath = ctx.images.path(`pages-${head.pages_id}.img`);
  const runs: RemoteRange[] = [];
  for (const e of entries) if (e.flags & PE.PRESENT) runs.push({ addr: BigInt(e.vaddr), len: Number(e.nr_pages ?? e.compat_nr_pages) * PAGE_SIZE });
  const totalBytes = runs.reduce((s, r) => s + r.len, 0);
  const total = totalBytes / PAGE_SIZE;
  const split = totalBytes >= parallelFillBytes() ? Math.floor(totalBytes / 2 / PAGE_SIZE) * PAGE_SIZE : totalBytes;
  const [ownRuns, cryoRuns] = splitRuns(runs, split);
  const pfd = openInTask(task, pagesPath, O.RDONLY);
  const cryoFill = cryoRuns.length ? fillInBackground(task.pid, pagesPath, split, totalBytes - split, cryoRuns) : undefined;
  let written = 0;
  try {
    readPagesInTask(task, pfd, pagesPath, ownRuns, 0, (bytes) => ctx.onProgress?.((written += bytes) / PAGE_SIZE, total));
  } catch (e) {
    await cryoFill; // its mapping of the image is gone before the error goes on
    throw e;
  }
  if (cryoFill) {
    const tWait = performance.now();
    const n = await cryoFill;
    ctx.log.debug(`${task.pid}: the task read ${split} bytes of pages; cryo's ${totalBytes - split} took ${(performance.now() - tWait).toFixed(1)} ms more`);
    // What cryo could not write (a read-only page, a failed call), the task reads after all.
    if (n < totalBytes - split) ctx.log.debug(`${task.pid}: cryo wrote ${n} of ${totalBytes - split} bytes of pages; the task reads the rest`);
    readPagesInTask(task, pfd, pagesPath, splitRuns(cryoRuns, n)[1], split + n, () => {});
    ctx.onProgress?.(total, total);
  }
  t.call('close', NR.close, pfd);
  ctx.stats.pages_restored += total;

  // Final protections and advice, batched: 10,000 VMAs are a few stops, not 10,000.
  const finals: BatchedCall[] = [];
  for (const v of vmas) {
    if (v.status & (VMA.AREA_VSYSCALL | VMA.AREA_VDSO | VMA.AREA_VVAR)) continue;
    const start = BigInt(v.start);
    const len = BigInt(v.end) - start;
    if (hasPages.has(v) && !(Number(v.prot) & PROT.WRITE)) finals.push({ name: 'mprotect', nr: NR.mprotect, args: [start, len, Number(v.prot)] });
    const madv = BigInt(v.madv ?? 0);
    for (let bit = 0; bit < 64; bit++) if ((madv >> BigInt(bit)) & 1n) finals.push({ name: 'madvise', nr: NR.madvise, args: [start, len, bit], check: false });
  }
  rp.batch(finals);
  attachSysvShm(ctx, task, all.filter((v) => v.status & VMA.AREA_SYSVIPC));
  ctx.log.debug(`${task.pid}: ${vmas.length} VMAs and ${total} pages restored with ${t.count - syscalls0} injected syscalls`);
}

/**
 * Adjacent private anonymous VMAs mapped with the same prot and flags take one injected mmap:
 * the kernel would merge them anyway, until the final protections are set after the pages are
 * filled. A heap of 10,000 small mappings costs one syscall instead of 10,000 (~0.1 ms each).
 */
class AnonRuns {
  readonly #t: RestoreTask['remote']['leader'];
  #run: { start: bigint; end: bigint; prot: number; flags: number } | undefined;

  constructor(t: RestoreTask['remote']['leader']) {
    this.#t = t;
  }

  /** Takes an anonymous private mapping into the current run (false: not one, map it yourself). */
  add(start: bigint, len: bigint, prot: number, flags: number): boolean {
    if (!(flags & MAP.ANONYMOUS) || flags & (MAP.SHARED | MAP.GROWSDOWN)) return false;
    const r = this.#run;
    if (r && r.end === start && r.prot === prot && r.flags === flags) {
      r.end = start + len;
      return true;
    }
    this.flush();
    this.#run = { start, end: start + len, prot, flags };
    return true;
  }

  flush(): void {
    const r = this.#run;
    if (r) this.#t.call('mmap', NR.mmap, r.start, r.end - r.start, r.prot, r.flags, -1, 0n);
    this.#run = undefined;
  }
}

/** brk, stack, arg/env, auxv and exe in one PR_SET_MM_MAP (needs no CAP_SYS_RESOURCE). */
export function restoreMmFields(ctx: RestoreContext, task: RestoreTask, mm: Entry): void {
  const rp = task.remote;
  const auxv = (mm.mm_saved_auxv ?? []) as bigint[];
  const auxBuf = Buffer.alloc(auxv.length * 8);
  auxv.forEach((w, i) => auxBuf.writeBigUInt64LE(BigInt(w), i * 8));
  const auxAddr = rp.put(2048, auxBuf);
  const exeId = Number(mm.exe_file_id);
  const exeFd = ctx.files.get(exeId)?.reg ? openInTask(task, regFilePath(ctx, exeId), O.RDONLY) : -1;
  const map = Buffer.alloc(104);
  [
    mm.mm_start_code, mm.mm_end_code, mm.mm_start_data, mm.mm_end_data, mm.mm_start_brk, mm.mm_brk,
    mm.mm_start_stack, mm.mm_arg_start, mm.mm_arg_end, mm.mm_env_start, mm.mm_env_end,
  ].forEach((v, i) => map.writeBigUInt64LE(BigInt(v ?? 0), i * 8));
  map.writeBigUInt64LE(auxAddr, 88);
  map.writeUInt32LE(auxBuf.length, 96);
  map.writeInt32LE(exeFd, 100);
  rp.leader.call('prctl', NR.prctl, PR.SET_MM, PR_SET_MM_MAP, rp.put(0, map), 104, 0);
  if (exeFd >= 0) rp.leader.call('close', NR.close, exeFd);
  if (mm.dumpable !== undefined) rp.leader.raw(NR.prctl, PR.SET_DUMPABLE, Number(mm.dumpable));
  if (mm.thp_disabled) rp.leader.raw(NR.prctl, PR.SET_THP_DISABLE, 1);
  ctx.log.debug(`${task.pid}: mm fields set`);
}

/** Checks that a pages image holds exactly what its pagemap promises (before any process is touched). */
export function checkPages(ctx: RestoreContext, pid: number, pagemap: Entry[]): void {
  const head = pagemap[0] as Entry | undefined;
  if (!head || head.pages_id === undefined) throw new RuntimeError(`pagemap-${pid}.img: no pagemap head`);
  const want = pagemap.slice(1).reduce((s, e) => s + (e.flags & PE.PRESENT ? Number(e.nr_pages ?? e.compat_nr_pages) : 0), 0);
  const path = ctx.images.path(`pages-${head.pages_id}.img`);
  const fd = openSync(path, 'r');
  try {
    const probe = Buffer.alloc(1);
    const size = want * PAGE_SIZE;
    if (size > 0 && readSync(fd, probe, 0, 1, size - 1) !== 1) throw new RuntimeError(`${path}: shorter than its pagemap (${want} pages)`);
  } finally {
    closeSync(fd);
  }
}

