// A process that cryo works inside: its threads stopped, a `syscall` instruction found in its
// vDSO, and a scratch area mapped for pointer arguments. One per process per dump or restore.
import { MAP, NR, PROT, type Regs } from '../native/index.ts';
import { RuntimeError } from '../errors.ts';
import { findSyscallInsn, RemoteThread, TRAP_CODE } from './inject.ts';
import { readMaps, type Vma } from './proc/index.ts';

export const SCRATCH_SIZE = 64 * 1024;
/** Where TRAP_CODE sits in the scratch area (its last bytes, clear of every argument). */
const TRAP_OFF = SCRATCH_SIZE - 16;

export function vdsoOf(vmas: readonly Vma[]): Vma | undefined {
  return vmas.find((v) => v.path === '[vdso]');
}

export function findVdsoSyscall(pid: number, vmas: readonly Vma[] = readMaps(pid)): bigint {
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

export class RemoteProcess {
  readonly pid: number;
  readonly leader: RemoteThread;
  readonly #threads = new Map<number, RemoteThread>();
  scratch = 0n;

  constructor(pid: number, syscallIp: bigint) {
    this.pid = pid;
    this.leader = new RemoteThread(pid, syscallIp);
    this.#threads.set(pid, this.leader);
  }

  /** Maps the scratch area (at `at` if given, which must be free). */
  mapScratch(at = 0n): bigint {
    const flags = MAP.PRIVATE | MAP.ANONYMOUS | (at ? MAP.FIXED_NOREPLACE : 0);
    this.scratch = this.leader.call('mmap', NR.mmap, at, SCRATCH_SIZE, PROT.READ | PROT.WRITE | PROT.EXEC, flags, -1, 0);
    if (at && this.scratch !== at) throw new RuntimeError(`scratch mapped at 0x${this.scratch.toString(16)}, wanted 0x${at.toString(16)}`);
    return this.scratch;
  }

  unmapScratch(): void {
    if (this.scratch) this.leader.call('munmap', NR.munmap, this.scratch, SCRATCH_SIZE);
    this.scratch = 0n;
  }

  /**
   * Writes `syscall; int3` into the scratch area (mapped executable) and injects through it from
   * now on: one stop per syscall instead of two. For tasks cryo builds (restore) only.
   */
  useTrapCode(): void {
    const ip = this.put(TRAP_OFF, TRAP_CODE);
    for (const t of this.#threads.values()) t.useTrap(ip);
  }

  /** The leader back to stepping the vDSO syscall, for its last syscalls (the scratch area goes). */
  stopTrapCode(): void {
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

  thread(tid: number): RemoteThread {
    let t = this.#threads.get(tid);
    if (!t) {
      t = new RemoteThread(tid, this.leader.syscallIp, this.leader.trapIp);
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
