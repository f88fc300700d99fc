// A process that cryo works inside: its threads stopped, a `syscall` instruction found in its
// vDSO, and a scratch area mapped for pointer arguments. One per process per dump or restore.
import { IOV_MAX, MAP, NR, PROT, PTRACE_EVENT, PTRACE_O, SyscallError, cont, readMemory, setOptions, waitTask, type Regs, type WaitStatus } from '../native/index.ts';
import { RuntimeError } from '../errors.ts';
import { BATCH_CODE, BATCH_ENTRY, encodeBatch, findSyscallInsn, fmtArg, GUARD_BLOCK_BYTES, GUARD_BLOCK_OFF, GUARD_CODE, RemoteThread, TRAP_CODE, type GuardArea } from './inject.ts';
import { readAuxv, readMaps, type Vma } from './proc/index.ts';

export const SCRATCH_SIZE = 64 * 1024;
/** Where TRAP_CODE sits in the scratch area (its last bytes, clear of every argument). */
const TRAP_OFF = SCRATCH_SIZE - 16;
/** BATCH_CODE, just before it. */
const BATCH_CODE_OFF = SCRATCH_SIZE - 128;
/** GUARD_CODE and its block (guarded injection, dumps), below BATCH_CODE. */
const GUARD_OFF = SCRATCH_SIZE - 1024;
/** Batch tables: the upper half of scratch (pointer arguments and iovecs use the lower half). */
const BATCH_TABLE_OFF = SCRATCH_SIZE / 2;
const BATCH_MAX = Math.floor((GUARD_OFF - BATCH_TABLE_OFF) / BATCH_ENTRY) - 1;
if (GUARD_OFF + GUARD_BLOCK_OFF + GUARD_BLOCK_BYTES > BATCH_CODE_OFF) throw new Error('scratch layout: GUARD_CODE overlaps BATCH_CODE');
/** iovecs of injected preadv/pwritev: from 16 KiB on, IOVS_PER_CALL of them (below the batch tables). */
export const IOV_OFF = 16 * 1024;
export const IOVS_PER_CALL = Math.min(IOV_MAX, (BATCH_TABLE_OFF - IOV_OFF) / 16);
/**
 * A helper thread's code (spawnHelper): `syscall` — cryo points the thread at it with each call
 * and stops it at the syscall's exit — then `mov eax, 60; xor edi, edi; syscall`: exit(0), where
 * the thread goes by itself once cryo lets it run on (or is gone).
 */
const HELPER_CODE = Uint8Array.from([0x0f, 0x05, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05]);
/** Between BATCH_CODE and TRAP_CODE. */
const HELPER_CODE_OFF = SCRATCH_SIZE - 64;
/** A stack for the helper thread, which never uses it (its signals are blocked): clone3 wants one. */
const HELPER_STACK_OFF = 4096;
const HELPER_STACK_BYTES = 4096;
const HELPER_ARGS_OFF = 1024;
// CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM: a thread like any other.
const CLONE_THREAD_FLAGS = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000;

/** One syscall of RemoteProcess.batch(); `check: false` ignores its failure (as raw() would). */
export interface BatchedCall {
  readonly name: string;
  readonly nr: number;
  readonly args: readonly (number | bigint)[];
  readonly check?: boolean;
}

export function vdsoOf(vmas: readonly Vma[]): Vma | undefined {
  return vmas.find((v) => v.path === '[vdso]');
}

const AT_SYSINFO_EHDR = 33;

/**
 * The vDSO's address from the auxiliary vector, and a `syscall` in its first pages: parsing
 * /proc/PID/maps instead costs ~20 ms for a task with 10,000 VMAs. Falls back to the maps when
 * the auxv has no vDSO or it doesn't read (moved).
 */
function vdsoSyscallFromAuxv(pid: number): bigint | undefined {
  const auxv = readAuxv(pid);
  let base: bigint | undefined;
  for (let i = 0; i + 1 < auxv.length; i += 2) if (auxv[i] === BigInt(AT_SYSINFO_EHDR)) base = auxv[i + 1];
  if (!base) return undefined;
  try {
    // Still the vDSO there: it is an ELF image.
    if (readMemory(pid, base, 4).toString('latin1') !== '\x7fELF') return undefined;
    for (let page = 0n; page < 4n; page++) {
      const ip = findSyscallInsn(pid, base + page * 4096n, base + (page + 1n) * 4096n);
      if (ip !== undefined) return ip;
    }
  } catch {
    /* not mapped there any more */
  }
  return undefined;
}

export function findVdsoSyscall(pid: number, given?: readonly Vma[]): bigint {
  if (!given) {
    const ip = vdsoSyscallFromAuxv(pid);
    if (ip !== undefined) return ip;
  }
  const vmas = given ?? readMaps(pid);
  const vdso = vdsoOf(vmas);
  if (vdso) {
    const ip = findSyscallInsn(pid, vdso.start, vdso.end);
    if (ip !== undefined) return ip;
  }
  // No vDSO (vdso=0): any executable mapping has a `syscall` instruction somewhere (libc).
  for (const v of vmas) {
    if ((v.prot & PROT.EXEC) === 0 || v.path === '[vsyscall]') continue;
    const ip = findSyscallInsn(pid, v.start, v.end);
    if (ip !== undefined) return ip;
  }
  throw new RuntimeError(`no syscall instruction found in task ${pid}`);
}

/** A task cloned traced from birth (PTRACE_O_TRACECLONE/TRACEFORK) first stops in PTRACE_EVENT_STOP: `st`, its first wait status, must say so. */
export function checkBirthStop(st: WaitStatus, tid: number, what: string): void {
  if (st.kind !== 'stopped' || st.event !== PTRACE_EVENT.STOP) throw new RuntimeError(`${what} ${tid} did not stop at its start: ${JSON.stringify(st)}`);
}

export class RemoteProcess {
  readonly pid: number;
  readonly leader: RemoteThread;
  readonly #threads = new Map<number, RemoteThread>();
  scratch = 0n;
  #batchIp: bigint | undefined;
  #guard: GuardArea | undefined;

  /** `guarded`: a dumped process, whose threads are put back after every call (see RemoteThread.guarded). */
  constructor(pid: number, syscallIp: bigint, opts: { guarded?: boolean } = {}) {
    this.pid = pid;
    this.leader = new RemoteThread(pid, syscallIp, undefined, opts.guarded ?? false);
    this.#threads.set(pid, this.leader);
  }

  /** Maps the scratch area (at `at` if given, which must be free). */
  mapScratch(at = 0n): bigint {
    const flags = MAP.PRIVATE | MAP.ANONYMOUS | (at ? MAP.FIXED_NOREPLACE : 0);
    this.scratch = this.leader.call('mmap', NR.mmap, at, SCRATCH_SIZE, PROT.READ | PROT.WRITE | PROT.EXEC, flags, -1, 0);
    if (at && this.scratch !== at) throw new RuntimeError(`scratch mapped at 0x${this.scratch.toString(16)}, wanted 0x${at.toString(16)}`);
    return this.scratch;
  }

  /** Unmaps the scratch area: through the vDSO's syscall, as the code in scratch would be unmapped under the thread. */
  unmapScratch(): void {
    this.stopScratchCode();
    if (this.scratch) this.leader.call('munmap', NR.munmap, this.scratch, SCRATCH_SIZE);
    this.scratch = 0n;
  }

  /**
   * Writes `syscall; int3` into the scratch area (mapped executable) and injects through it from
   * now on: one stop per syscall instead of two, and batch(). For tasks cryo builds (restore): a
   * cryo killed with a thread at the int3 leaves it a SIGTRAP (dumps use useGuardCode()).
   */
  useTrapCode(): void {
    const ip = this.put(TRAP_OFF, TRAP_CODE);
    this.#batchIp = this.put(BATCH_CODE_OFF, BATCH_CODE);
    for (const t of this.#threads.values()) t.useTrap(ip);
  }

  /**
   * Runs syscalls in thread `t` (the leader by default), up to ~500 per stop (trap mode only):
   * thousands of mprotect or madvise calls for as many VMAs cost a few stops, not one each
   * (~0.1 ms a stop). Pointer arguments may point into the lower half of scratch. Throws
   * SyscallError for the first checked call that fails; the calls after it are not run.
   */
  batch(calls: readonly BatchedCall[], t: RemoteThread = this.leader): bigint[] {
    const codeIp = t.guard ? t.guard.code : this.#batchIp;
    if (codeIp === undefined || (!t.guard && t.trapIp === undefined)) throw new RuntimeError(`task ${t.tid}: batched syscalls need trap mode or a guard`);
    const table = this.scratch + BigInt(BATCH_TABLE_OFF);
    const results: bigint[] = [];
    const collect = (n: number): void => {
      const done = this.get(BATCH_TABLE_OFF, n * BATCH_ENTRY);
      for (let j = 0; j < n; j++) results.push(done.readBigInt64LE(j * BATCH_ENTRY + 56));
    };
    for (let i = 0; i < calls.length; ) {
      const n = Math.min(BATCH_MAX, calls.length - i);
      t.write(table, encodeBatch(calls.slice(i, i + n)));
      const end = t.runBatch(codeIp, table, n);
      const ran = Number((end - table) / BigInt(BATCH_ENTRY));
      collect(ran);
      const last = results[results.length - 1]!;
      if (ran === n) {
        // Reached the terminator: a failure of the last call also ends here; look at it.
        const c = calls[i + n - 1]!;
        if (last < 0n && last > -4096n && c.check !== false) throw failed(c, last, t.tid);
        i += n;
        continue;
      }
      // Stopped after the failing call ran-1 of this table.
      const c = calls[i + ran - 1]!;
      if (c.check !== false) throw failed(c, last, t.tid);
      i += ran;
    }
    return results;
  }

  /**
   * Runs `calls` in thread `t` (the leader by default) and returns their results (rax) in order:
   * batched in trap mode (one stop for up to ~500), else one by one. Pointer arguments may point
   * into the lower half of scratch. Throws SyscallError for the first checked call that fails.
   */
  run(calls: readonly BatchedCall[], t: RemoteThread = this.leader): bigint[] {
    if (t.guard || (this.#batchIp !== undefined && t.trapIp !== undefined)) return this.batch(calls, t);
    return calls.map((c) => (c.check === false ? t.raw(c.nr, ...c.args) : t.call(c.name, c.nr, ...c.args)));
  }

  /**
   * Writes GUARD_CODE into the scratch area (a dumped process): from now on every call runs
   * through it, so that a cryo killed mid-call leaves the thread to put itself back. `stopSignal`
   * (guardStopSignal()) ends each batch of calls with one stop; without one (0), cryo steps
   * from syscall to syscall (two stops each).
   */
  useGuardCode(stopSignal: number): void {
    const code = this.put(GUARD_OFF, GUARD_CODE);
    this.#guard = { code, table: this.scratch + BigInt(BATCH_TABLE_OFF), stopSignal, tgid: this.pid, owner: 0 };
    for (const t of this.#threads.values()) t.guard = this.#guard;
  }

  /** The threads back to stepping the vDSO syscall, for the last syscalls (the scratch area goes). */
  stopScratchCode(): void {
    this.#guard = undefined;
    for (const t of this.#threads.values()) t.guard = undefined;
    this.leader.useTrap(undefined);
  }

  /**
   * Injects clone3 with set_tid = [tid] into the leader and returns the raw result (the new pid,
   * or -errno). The args are 88 bytes: that `size` is what makes set_tid count.
   */
  clone3WithTid(tid: number, flags: number, exitSignal: number): bigint {
    const tidBuf = Buffer.alloc(8);
    tidBuf.writeInt32LE(tid, 0);
    const a = Buffer.alloc(88);
    a.writeBigUInt64LE(BigInt(flags), 0);
    a.writeBigUInt64LE(BigInt(exitSignal), 32);
    a.writeBigUInt64LE(this.put(1024, tidBuf), 64);
    a.writeBigUInt64LE(1n, 72);
    return this.leader.raw(NR.clone3, this.put(0, a), 88);
  }

  /**
   * Starts a thread in the process to run syscalls in while the process's own threads stay as
   * they were (clone3 in the leader, which finish() puts back): its code is HELPER_CODE in
   * scratch, so if cryo dies while it works, it exits by itself and the process runs on. Traced
   * from its first instruction (PTRACE_O_TRACECLONE for the call: `options` are the tracer's
   * usual ones); signals blocked, as the injected leader's. endHelper() ends it. The clone3 runs
   * at the guard code's clone entry (useGuardCode() first), so the thread is born at an exit(0),
   * where it goes by itself if cryo dies before pointing it at a call.
   */
  spawnHelper(options: number): RemoteThread {
    if (!this.#guard) throw new RuntimeError(`task ${this.pid}: a helper thread needs the guard code`);
    const code = this.put(HELPER_CODE_OFF, HELPER_CODE);
    const args = Buffer.alloc(64); // struct clone_args up to cgroup-less set_tid (CLONE_ARGS_SIZE_VER0)
    args.writeBigUInt64LE(BigInt(CLONE_THREAD_FLAGS), 0);
    args.writeBigUInt64LE(this.scratch + BigInt(HELPER_STACK_OFF), 40);
    args.writeBigUInt64LE(BigInt(HELPER_STACK_BYTES), 48);
    const at = this.put(HELPER_ARGS_OFF, args);
    setOptions(this.pid, options | PTRACE_O.TRACECLONE);
    let tid: number;
    try {
      const r = this.leader.rawClone(NR.clone3, at, args.length);
      if (r < 0n) throw new SyscallError('clone3', Number(-r), `injected in ${this.pid}`);
      tid = Number(r);
    } finally {
      setOptions(this.pid, options);
    }
    checkBirthStop(waitTask(tid), tid, `helper thread of ${this.pid}`);
    return new RemoteThread(tid, code);
  }

  /** Lets a helper thread run on into its exit(0) and waits until it is gone. */
  static endHelper(helper: RemoteThread): void {
    cont(helper.tid);
    for (;;) {
      const st = waitTask(helper.tid);
      if (st.kind === 'exited' || st.kind === 'signaled') return;
      cont(helper.tid); // a stop on its way out: let it go on

    }
  }

  thread(tid: number): RemoteThread {
    let t = this.#threads.get(tid);
    if (!t) {
      t = new RemoteThread(tid, this.leader.syscallIp, this.leader.trapIp, this.leader.guarded);
      t.guard = this.#guard;
      this.#threads.set(tid, t);
    }
    return t;
  }

  threads(): RemoteThread[] {
    return [...this.#threads.values()];
  }

  /** Moves the syscall instruction address along when the vDSO is moved. */
  setSyscallIp(ip: bigint): void {
    for (const t of this.#threads.values()) t.syscallIp = ip;
  }

  /** Writes a buffer into scratch at `offset` and returns its remote address. */
  put(offset: number, data: Uint8Array): bigint {
    if (offset + data.byteLength > SCRATCH_SIZE) throw new RuntimeError(`scratch overflow (${offset}+${data.byteLength})`);
    const addr = this.scratch + BigInt(offset);
    this.leader.write(addr, data);
    return addr;
  }

  putString(offset: number, s: string): bigint {
    return this.put(offset, Buffer.from(`${s}\0`));
  }

  get(offset: number, len: number): Buffer {
    return this.leader.read(this.scratch + BigInt(offset), len);
  }

  /** Puts every thread back as it was (dump) with the restart fix-up. */
  restoreAll(): void {
    for (const t of this.#threads.values()) t.finish({ ownRestartBlock: true });
  }
}

export type { Regs };

function failed(c: BatchedCall, r: bigint, tid: number): SyscallError {
  return new SyscallError(c.name, Number(-r), `injected in ${tid}: ${c.args.map(fmtArg).join(', ')}`);
}
