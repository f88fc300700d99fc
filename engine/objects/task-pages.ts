// A dump's pages written by the task itself (dumpMemory's path for large processes): cryo passes
// it the pages image's fd and starts a helper thread in it that pwritev()s its pages, one copy
// into the page cache, while each piece is hashed once written. Also the copy by cryo
// (process_vm_readv, /proc/PID/mem) that both paths use for what the task can't read.
import {
  AF,
  MSG,
  NR,
  PAGE_SIZE,
  SOCK,
  errnoName,
  closeFd,
  copyFdOf,
  encodeMsghdr,
  msghdrControlLen,
  parseCmsgs,
  readProcMem,
  readRanges,
  scmRights,
  sendFds,
  type RemoteRange,
} from '../../native/index.ts';
import { RuntimeError } from '../../errors.ts';
import type { DumpContext } from '../context.ts';
import { killPoint } from '../faults.ts';
import { guardStopSignal, type RemoteThread } from '../inject.ts';
import { PIECE_BYTES, poolHashing, RAW_BUFFER_BYTES, type SharedRawImage } from '../images/index.ts';
import { memoryHeadroom, readLimits, readStatus } from '../proc/index.ts';
import { findVdsoSyscall, IOV_OFF, IOVS_PER_CALL, RemoteProcess } from '../remote.ts';
import { DUMP_PTRACE_OPTIONS } from '../tree.ts';

/** A run of pages to write, in file order. */
export interface PageRun {
  readonly vaddr: bigint;
  readonly nrPages: number;
  /** False for PROT_NONE: cryo reads those through /proc/PID/mem. */
  readonly readable: boolean;
}

/** `batch` of task `pid` into `buf`: process_vm_readv, and /proc/PID/mem for what it can't read (PROT_NONE). */
export function copyRanges(pid: number, buf: Uint8Array, batch: readonly RemoteRange[]): void {
  const n = readRanges(pid, buf, batch);
  let off = 0;
  for (const r of batch) {
    if (off + r.len > n) {
      const from = Math.max(0, n - off);
      readProcMem(pid, r.addr + BigInt(from), buf.subarray(off + from, off + r.len));
    }
    off += r.len;
  }
}

/**
 * From this many bytes of pages on, the task writes them into the image itself: below, setting
 * it up costs more than the copy saved — 64 MiB when the image is hashed on the thread pool
 * (interleaved dumps: 64 MiB 275 → 246 ms wall, 32 MiB even, 16 MiB 240 → 245), 128 MiB when
 * hash workers must be started for it.
 */
const TASK_WRITE_BYTES_POOL = 64 << 20;
const TASK_WRITE_BYTES_WORKERS = 128 << 20;

/**
 * Whether a process with `bytes` of pages writes them into the image itself (dumpMemory), and so
 * whether a dump prepares for it. CRYO_TASK_WRITE_BYTES (tests) sets the threshold.
 */
export function taskWritesPages(bytes: number): boolean {
  const forced = Number(process.env.CRYO_TASK_WRITE_BYTES);
  if (forced > 0) return bytes >= forced;
  // The smaller threshold first: below it the answer needs no libcrypto (loading it takes ~3 ms).
  return bytes >= TASK_WRITE_BYTES_POOL && bytes >= (poolHashing() ? TASK_WRITE_BYTES_POOL : TASK_WRITE_BYTES_WORKERS);
}

const RLIMIT_FSIZE = 1;
/** Memory cgroup room kept free beyond the pages image's page cache. */
const CGROUP_MARGIN = 64 << 20;

/** Why task `pid` shouldn't write its pages image of `bytes` itself; undefined when it may. */
export function taskWriteRefusal(pid: number, bytes: number): string | undefined {
  try {
    return taskWriteLimit(pid, bytes);
  } catch (e) {
    return `its limits could not be read (${(e as Error).message})`;
  }
}

function taskWriteLimit(pid: number, bytes: number): string | undefined {
  // Past its file size limit the task would get SIGXFSZ. (/proc: prlimit() on another user's
  // process needs CAP_SYS_RESOURCE.)
  const fsize = readLimits(pid)[RLIMIT_FSIZE]?.soft ?? 0n;
  if (fsize < BigInt(bytes)) return `its file size limit (RLIMIT_FSIZE ${fsize}) is below the image's ${bytes} bytes`;
  // The page cache of what it writes is charged to its memory cgroup: never push that to its limit.
  const room = memoryHeadroom(pid);
  if (room < bytes + CGROUP_MARGIN) return `its memory cgroup has ${Math.max(0, Math.floor(room / 2 ** 20))} MiB left below its limit, the image needs ${Math.ceil(bytes / 2 ** 20)} MiB of page cache`;
  return undefined;
}

// Scratch layout while the task writes its pages: the socketpair's fds, a msghdr, its iovec, the
// byte and the control message received; iovecs of pwritev from IOV_OFF.
const PAIR_OFF = 0;
const MSGHDR_OFF = 64;
const MSG_IOV_OFF = 128;
const MSG_BYTE_OFF = 160;
const MSG_CONTROL_OFF = 192;
const MSG_CONTROL_BYTES = 24; // CMSG_SPACE(sizeof(int))

/**
 * Gives task `rp` a copy of cryo's fd `fd`: the task makes a socketpair, cryo takes one end
 * (pidfd_getfd) and sends the fd through it (SCM_RIGHTS), the task receives it. Neither the
 * file's permissions nor the task's credentials or mount namespace matter. Returns the task's fd.
 */
function passFdToTask(rp: RemoteProcess, fd: number): number {
  const t = rp.leader;
  t.call('socketpair', NR.socketpair, AF.UNIX, SOCK.DGRAM | SOCK.CLOEXEC, 0, rp.scratch + BigInt(PAIR_OFF));
  const pair = rp.get(PAIR_OFF, 8);
  const ends = [pair.readInt32LE(0), pair.readInt32LE(4)] as const;
  try {
    const own = copyFdOf(rp.pid, ends[0]);
    try {
      sendFds(own, [fd]);
    } finally {
      closeFd(own);
    }
    const iov = Buffer.alloc(16);
    iov.writeBigUInt64LE(rp.scratch + BigInt(MSG_BYTE_OFF), 0);
    iov.writeBigUInt64LE(1n, 8);
    rp.put(MSG_IOV_OFF, iov);
    rp.put(MSGHDR_OFF, encodeMsghdr(rp.scratch + BigInt(MSG_IOV_OFF), 1, rp.scratch + BigInt(MSG_CONTROL_OFF), MSG_CONTROL_BYTES));
    t.call('recvmsg', NR.recvmsg, ends[1], rp.scratch + BigInt(MSGHDR_OFF), MSG.CMSG_CLOEXEC | MSG.DONTWAIT);
    const got = scmRights(parseCmsgs(rp.get(MSG_CONTROL_OFF, Math.min(MSG_CONTROL_BYTES, msghdrControlLen(rp.get(MSGHDR_OFF, 56))))));
    if (got.length !== 1) throw new RuntimeError(`task ${rp.pid} received ${got.length} fds, not the pages image`);
    return got[0]!;
  } finally {
    for (const end of ends) t.raw(NR.close, end);
  }
}

/**
 * The task pwritev()s its own pages into the pages image through a copy of the image's fd: one
 * copy from its memory into the page cache, where process_vm_readv + write() make two, and each
 * piece is hashed in the background once written (no core is left idle). The writing is done
 * by a helper thread started in the task for it, so that the task's own threads are put back
 * before the long part, as inject() does: if cryo is killed meanwhile, the helper exits by itself
 * (the image's fd and the scratch area stay behind) and the task runs on. Pages the task can't
 * read (PROT_NONE, a fault) cryo copies itself at their place in the file. False, with the task
 * as it was, when the task can't be set up for it (cryo then copies the pages as usual).
 */
export function writePagesByTask(ctx: DumpContext, pid: number, name: string, runs: readonly PageRun[], bytes: number, planMs: number): boolean {
  const t0 = performance.now();
  const image = ctx.images.openRawShared(name, bytes);
  // The task's own injection, its scratch area and guard code mapped since inject() (dump.ts);
  // a snapshot (objects/snapshot.ts) gets a scratch area of its own here.
  const own = ctx.remotes.get(pid);
  let rp: RemoteProcess | undefined;
  let taskFd = -1;
  let helper: RemoteThread | undefined;
  let ok = false;
  try {
    try {
      rp = own ?? snapshotRemote(pid);
      taskFd = passFdToTask(rp, image.fd);
      killPoint('task-pages-setup');
      helper = rp.spawnHelper(DUMP_PTRACE_OPTIONS);
      killPoint('task-pages-helper');
    } catch (e) {
      ctx.log.debug(`${pid}: cryo copies the pages: the task could not be set up to write them (${(e as Error).message})`);
      return false;
    } finally {
      rp?.restoreAll();
    }
    const t1 = performance.now();
    ctx.log.debug(`${pid}: helper thread ${helper.tid} writes the pages (the task's own threads are back as they were)`);
    const writer = new TaskPageWriter(pid, helper, rp.scratch, taskFd, image, bytes);
    let done = 0;
    for (const r of runs) {
      const len = r.nrPages * PAGE_SIZE;
      if (r.readable) writer.add({ addr: r.vaddr, len });
      else writer.copyByCryo({ addr: r.vaddr, len });
      done += r.nrPages;
      if (writer.flushed) ctx.onProgress?.(Math.min(done, writer.offset / PAGE_SIZE), bytes / PAGE_SIZE);
    }
    writer.flush();
    image.close();
    ok = true;
    const t2 = performance.now();
    ctx.stats.memdump_us += Math.round((planMs + t1 - t0) * 1000);
    ctx.stats.memwrite_us += Math.round((t2 - t1) * 1000);
    ctx.log.debug(`${pid}: the task wrote ${writer.byTask} bytes of pages in ${writer.calls} pwritev calls (${(t2 - t1).toFixed(1)} ms); cryo copied ${writer.byCryo}`);
    if (writer.refused) ctx.log.warn(`${pid}: ${writer.refused}: cryo wrote the rest of its pages itself`);
    return true;
  } finally {
    if (!ok) image.discard();
    // Each step tried even if one before failed: the helper gone, then the fd (and a snapshot's scratch).
    try {
      if (helper) RemoteProcess.endHelper(helper);
    } finally {
      if (rp?.scratch) {
        try {
          if (taskFd >= 0) rp.leader.raw(NR.close, taskFd);
          killPoint('task-pages-teardown');
          if (!own) rp.unmapScratch();
        } finally {
          rp.restoreAll();
        }
      }
    }
  }
}

/**
 * A snapshot's injection, with a scratch area and guard code of its own: parked between calls at
 * its birth, at its exit, so that if cryo dies it goes.
 */
function snapshotRemote(pid: number): RemoteProcess {
  const rp = new RemoteProcess(pid, findVdsoSyscall(pid), { guarded: true });
  rp.mapScratch();
  rp.useGuardCode(guardStopSignal([readStatus(pid)]));
  return rp;
}

const EFAULT = 14;
const EIO = 5;

/** Bytes the task writes with one pwritev (fewer ptrace round trips than a call per piece). */
const WRITE_CALL_BYTES = 32 << 20;

/** Batches of ranges the task writes with one pwritev each, in file order (see writePagesByTask). */
class TaskPageWriter {
  readonly #pid: number;
  readonly #helper: RemoteThread;
  readonly #scratch: bigint;
  readonly #fd: number;
  readonly #image: SharedRawImage;
  readonly #total: number;
  readonly #iov = Buffer.alloc(IOVS_PER_CALL * 16);
  #batch: RemoteRange[] = [];
  #batchBytes = 0;
  #buf: Buffer | undefined;
  /** Bytes of the file written, in order. */
  offset = 0;
  byTask = 0;
  byCryo = 0;
  calls = 0;
  /** The last add() wrote a batch. */
  flushed = false;
  /** Why the task's writes failed (not a fault: a security module, a full disk…); cryo writes the rest. */
  refused: string | undefined;

  constructor(pid: number, helper: RemoteThread, scratch: bigint, fd: number, image: SharedRawImage, total: number) {
    this.#pid = pid;
    this.#total = total;
    this.#helper = helper;
    this.#scratch = scratch;
    this.#fd = fd;
    this.#image = image;
  }

  /**
   * Queues a range for the task; a batch is written at WRITE_CALL_BYTES or IOV_MAX ranges, its
   * pieces hashed meanwhile. The last 64 MiB go a piece per call, so that little is left to hash
   * when the last call returns.
   */
  add(r: RemoteRange): void {
    this.flushed = false;
    if (this.refused) {
      this.copyByCryo(r);
      this.flushed = true;
      return;
    }
    for (let at = 0; at < r.len; ) {
      const callBytes = this.#total - this.offset > 2 * WRITE_CALL_BYTES ? WRITE_CALL_BYTES : PIECE_BYTES;
      const len = Math.min(r.len - at, callBytes - this.#batchBytes);
      this.#batch.push({ addr: r.addr + BigInt(at), len });
      this.#batchBytes += len;
      at += len;
      if (this.#batchBytes >= callBytes || this.#batch.length === IOVS_PER_CALL) this.flush();
    }
  }

  flush(): void {
    const batch = this.#batch;
    this.#batch = [];
    this.#batchBytes = 0;
    for (let i = 0, skip = 0; i < batch.length; ) {
      const r = batch[i]!;
      if (this.refused) {
        this.#copy({ addr: r.addr + BigInt(skip), len: r.len - skip });
        i++;
        skip = 0;
        continue;
      }
      const k = Math.min(batch.length - i, IOVS_PER_CALL);
      for (let j = 0; j < k; j++) {
        const q = batch[i + j]!;
        const from = j === 0 ? skip : 0;
        this.#iov.writeBigUInt64LE(q.addr + BigInt(from), j * 16);
        this.#iov.writeBigUInt64LE(BigInt(q.len - from), j * 16 + 8);
      }
      const iovAddr = this.#scratch + BigInt(IOV_OFF);
      this.#helper.write(iovAddr, this.#iov.subarray(0, k * 16));
      // CRYO_FAIL_AT=task-write (tests): the task's writes fail from the second one on (a bad fd).
      const fd = process.env.CRYO_FAIL_AT === 'task-write' && this.calls > 0 ? -1 : this.#fd;
      const got = this.#helper.raw(NR.pwritev, fd, iovAddr, k, this.offset, 0);
      this.calls++;
      if (got <= 0n) {
        // EFAULT: a page the task can't read after all — cryo copies the rest of that range.
        // Anything else — a security module refusing the task the file, a full disk — and cryo
        // writes everything from here itself (its own error, if any, is the dump's).
        const errno = got === 0n ? EIO : Number(-got);
        if (errno !== EFAULT) this.refused = `pwritev in the task failed with ${errnoName(errno)}`;
        this.#copy({ addr: r.addr + BigInt(skip), len: r.len - skip });
        i++;
        skip = 0;
        continue;
      }
      let left = Number(got);
      this.offset += left;
      this.byTask += left;
      for (; left > 0; ) {
        const rest = batch[i]!.len - skip;
        if (left < rest) {
          skip += left;
          left = 0;
        } else {
          left -= rest;
          i++;
          skip = 0;
        }
      }
    }
    if (batch.length) {
      this.#image.written(this.offset);
      this.flushed = true;
    }
  }

  /** Copies a range cryo reads itself (process_vm_readv, or /proc/PID/mem) to its place in the file, after what is queued. */
  copyByCryo(r: RemoteRange): void {
    this.flush();
    this.#copy(r);
  }

  #copy(r: RemoteRange): void {
    const buf = (this.#buf ??= Buffer.allocUnsafe(RAW_BUFFER_BYTES));
    for (let at = 0; at < r.len; at += buf.length) {
      const len = Math.min(buf.length, r.len - at);
      copyRanges(this.#pid, buf, [{ addr: r.addr + BigInt(at), len }]);
      this.#image.writeAt(buf.subarray(0, len), this.offset);
      this.offset += len;
      this.byCryo += len;
    }
    this.#image.written(this.offset);
  }
}
