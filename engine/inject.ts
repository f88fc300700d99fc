// Syscall injection: run a syscall inside a stopped task, with plain ptrace and no parasite code.
// The thread is pointed at an existing `syscall` instruction (found in its vDSO) with the
// arguments in registers, and stepped with PTRACE_SYSCALL from syscall-entry to syscall-exit,
// where rax holds the result. Nothing of the task's memory is modified, and no SIGTRAP is raised.
// All signals are blocked while injecting so that nothing is delivered between our syscalls
// (but a dump's stop signal, one the task ignores); signals that arrive meanwhile stay pending
// and are dumped as such.
//
// That first call maps a scratch area, and the calls after it run through cryo's code there:
// a dump's through GUARD_CODE, which gives each thread a way back of its own should cryo die
// mid-call; a restore's through TRAP_CODE and BATCH_CODE, ended by an int3 (the task is cryo's
// own until the restore is done).
//
// Both dump (to ask a task what only it can tell) and restore (to rebuild a task from inside)
// build on this one primitive.
import {
  ERESTART,
  EINTR,
  NR,
  PTRACE_EVENT,
  R,
  SIG,
  SIGMAX,
  SyscallError,
  getRegs,
  getSigmask,
  readMemory,
  setReg,
  setRegs,
  setSigmask,
  sreg,
  syscallStep,
  cont,
  waitTask,
  writeMemory,
  type Regs,
} from '../native/index.ts';
import { RuntimeError } from '../errors.ts';
import { killInCall } from './faults.ts';

const ALL_SIGNALS = 0xffffffffffffffffn;
/** Trap mode leaves SIGTRAP unblocked: the kernel resets the handler of a blocked forced signal. */
const ALL_BUT_SIGTRAP = ALL_SIGNALS & ~(1n << BigInt(SIG.SIGTRAP - 1));

/** `syscall; int3`: written into a scratch page for trap-mode injection. */
export const TRAP_CODE = Uint8Array.from([0x0f, 0x05, 0xcc]);

/** Bytes per syscall in a batch table: nr, six arguments, result (u64 each). */
export const BATCH_ENTRY = 64;
/**
 * Runs a table of syscalls at rbx (BATCH_ENTRY bytes each, ended by nr = -1) and traps: one stop
 * for a whole batch instead of one per syscall. Stops early after the first syscall that fails
 * (rax in -4095..-1); rbx then points past it.
 *
 *   0: mov rax,[rbx] · cmp rax,-1 · je 53 · mov rdi,[rbx+8] · mov rsi,[rbx+16] · mov rdx,[rbx+24]
 *      mov r10,[rbx+32] · mov r8,[rbx+40] · mov r9,[rbx+48] · syscall · mov [rbx+56],rax
 *      add rbx,64 · cmp rax,-4095 · jae 53 · jmp 0
 *  53: int3
 */
export const BATCH_CODE = Uint8Array.from([
  0x48, 0x8b, 0x03, 0x48, 0x83, 0xf8, 0xff, 0x74, 0x2c, 0x48, 0x8b, 0x7b, 0x08, 0x48, 0x8b, 0x73, 0x10,
  0x48, 0x8b, 0x53, 0x18, 0x4c, 0x8b, 0x53, 0x20, 0x4c, 0x8b, 0x43, 0x28, 0x4c, 0x8b, 0x4b, 0x30,
  0x0f, 0x05, 0x48, 0x89, 0x43, 0x38, 0x48, 0x83, 0xc3, 0x40, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff,
  0x73, 0x02, 0xeb, 0xcb, 0xcc,
]);

/**
 * Guarded injection (dumps): cryo's code in the task has a way back. Each call runs BATCH_CODE's
 * loop and then, instead of an int3, stops for cryo with a signal the task ignores; past that
 * stop, code that puts the thread back by itself — its signal mask, flags, registers, and a
 * jump to its own ip — from GUARD_BLOCK. Cryo stops the thread at that signal and parks it
 * (RemoteThread.guarded), so the restoring code runs only if cryo is gone mid-call (killed):
 * the syscalls then complete, the signal is ignored, and the task runs on as it was. Clones
 * enter at GUARD_CLONE: the parent goes the same way back, the child (rax 0) to exit(0).
 *
 *   0: BATCH_CODE's loop, up to its int3 · 53: mov eax,234 (tgkill) · mov edi,[tgid] · mov esi,[tid]
 *      mov edx,[sig] · syscall
 *  78: mov eax,14 (rt_sigprocmask) · mov edi,2 (SIG_SETMASK) · lea rsi,[mask] · xor edx,edx
 *      mov r10d,8 · syscall · mov rsp,[rsp_low] (the thread's rsp - 136: below its red zone)
 *      push [flags] · popfq · lea rsp,[rsp+136] · mov rax..r15,[…] · jmp [ip]
 * 238: syscall · test rax,rax · jnz 78 · mov eax,60 · xor edi,edi · syscall
 *
 * ([x] is rip-relative to GUARD_BLOCK, at GUARD_BLOCK_OFF from the code: see guardBlock().)
 */
export const GUARD_CODE = Uint8Array.from([
  ...BATCH_CODE.subarray(0, 53),
  0xb8, 0xea, 0x00, 0x00, 0x00, 0x8b, 0x3d, 0xd8, 0x01, 0x00, 0x00, 0x8b, 0x35, 0xd6, 0x01, 0x00, 0x00,
  0x8b, 0x15, 0xd4, 0x01, 0x00, 0x00, 0x0f, 0x05, 0xb8, 0x0e, 0x00, 0x00, 0x00, 0xbf, 0x02, 0x00, 0x00,
  0x00, 0x48, 0x8d, 0x35, 0x21, 0x01, 0x00, 0x00, 0x31, 0xd2, 0x41, 0xba, 0x08, 0x00, 0x00, 0x00, 0x0f,
  0x05, 0x48, 0x8b, 0x25, 0x20, 0x01, 0x00, 0x00, 0xff, 0x35, 0x12, 0x01, 0x00, 0x00, 0x9d, 0x48, 0x8d,
  0xa4, 0x24, 0x88, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x05, 0x1a, 0x01, 0x00, 0x00, 0x48, 0x8b, 0x1d, 0x1b,
  0x01, 0x00, 0x00, 0x48, 0x8b, 0x0d, 0x1c, 0x01, 0x00, 0x00, 0x48, 0x8b, 0x15, 0x1d, 0x01, 0x00, 0x00,
  0x48, 0x8b, 0x35, 0x1e, 0x01, 0x00, 0x00, 0x48, 0x8b, 0x3d, 0x1f, 0x01, 0x00, 0x00, 0x48, 0x8b, 0x2d,
  0x20, 0x01, 0x00, 0x00, 0x4c, 0x8b, 0x05, 0x21, 0x01, 0x00, 0x00, 0x4c, 0x8b, 0x0d, 0x22, 0x01, 0x00,
  0x00, 0x4c, 0x8b, 0x15, 0x23, 0x01, 0x00, 0x00, 0x4c, 0x8b, 0x1d, 0x24, 0x01, 0x00, 0x00, 0x4c, 0x8b,
  0x25, 0x25, 0x01, 0x00, 0x00, 0x4c, 0x8b, 0x2d, 0x26, 0x01, 0x00, 0x00, 0x4c, 0x8b, 0x35, 0x27, 0x01,
  0x00, 0x00, 0x4c, 0x8b, 0x3d, 0x28, 0x01, 0x00, 0x00, 0xff, 0x25, 0xaa, 0x00, 0x00, 0x00, 0x0f, 0x05,
  0x48, 0x85, 0xc0, 0x0f, 0x85, 0x55, 0xff, 0xff, 0xff, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f,
  0x05,
]);
/** Just past the stop's tgkill: where the thread is when cryo's stop signal stops it. */
export const GUARD_STOP_END = 78;
/** The clone entry, and just past its syscall. */
export const GUARD_CLONE = 238;
const GUARD_CLONE_END = GUARD_CLONE + 2;
/** Where the thread's way back (guardBlock) sits, from GUARD_CODE's start. */
export const GUARD_BLOCK_OFF = 384;
export const GUARD_BLOCK_BYTES = 164;
/** The red zone below rsp that the restoring code's push must not touch, plus that push's slot. */
const BELOW_RED_ZONE = 136n;

/**
 * GUARD_CODE's data: the thread's own registers (restart fix-up applied, as finish() puts them)
 * and signal mask, and the stop: tgkill(tgid, tid, sig) (sig 0: none, cryo steps the syscalls).
 */
export function guardBlock(regs: Regs, mask: bigint, tgid: number, tid: number, sig: number): Buffer {
  const b = Buffer.alloc(GUARD_BLOCK_BYTES);
  const at = (off: number, v: bigint): void => void b.writeBigUInt64LE(BigInt.asUintN(64, v), off);
  at(0, mask);
  at(8, regs[R.flags]!);
  at(16, regs[R.sp]! - BELOW_RED_ZONE);
  at(24, regs[R.ip]!);
  const order = ['ax', 'bx', 'cx', 'dx', 'si', 'di', 'bp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
  order.forEach((r, i) => at(32 + i * 8, regs[R[r]]!));
  b.writeInt32LE(tgid, 152);
  b.writeInt32LE(tid, 156);
  b.writeInt32LE(sig, 160);
  return b;
}

/** Signals whose default action is to ignore them (but SIGCONT, which resumes a stopped task when sent). */
const IGNORED_BY_DEFAULT = [SIG.SIGURG, SIG.SIGWINCH, SIG.SIGCHLD];

/**
 * A signal to stop a guarded thread with (GUARD_CODE's tgkill), from what /proc says of the
 * process's threads: one the process ignores — explicitly, or by default and not caught — so that
 * the kernel drops it at once when no tracer is left, and none of them has pending. 0 if none.
 */
export function guardStopSignal(statuses: Iterable<{ sigIgn: bigint; sigCgt: bigint; sigPnd: bigint; shdPnd: bigint }>): number {
  let ignored = ALL_SIGNALS;
  let pending = 0n;
  for (const st of statuses) {
    let own = st.sigIgn;
    for (const sig of IGNORED_BY_DEFAULT) {
      const bit = 1n << BigInt(sig - 1);
      if (!(st.sigCgt & bit)) own |= bit;
    }
    ignored &= own;
    pending |= st.sigPnd | st.shdPnd;
  }
  const free = ignored & ~pending;
  const usable = (sig: number): boolean => sig !== SIG.SIGKILL && sig !== SIG.SIGSTOP && sig !== SIG.SIGCONT && ((free >> BigInt(sig - 1)) & 1n) === 1n;
  for (const sig of IGNORED_BY_DEFAULT) if (usable(sig)) return sig;
  for (let sig = 1; sig <= SIGMAX; sig++) if (usable(sig)) return sig;
  return 0;
}

/** A process's GUARD_CODE (RemoteProcess.useGuardCode), shared by its threads. */
export interface GuardArea {
  /** GUARD_CODE's address in the task. */
  readonly code: bigint;
  /** A batch table for single calls. */
  readonly table: bigint;
  /** The signal that stops a thread at the end of a call (ignored by the task), or 0: cryo steps the syscalls instead. */
  readonly stopSignal: number;
  /** The process: tgkill's tgid. */
  readonly tgid: number;
  /** The thread whose way back the block holds now. */
  owner: number;
}

/** A batch table (BATCH_ENTRY bytes a call, ended by nr = -1) for BATCH_CODE or GUARD_CODE. */
export function encodeBatch(calls: readonly { readonly nr: number; readonly args: readonly (number | bigint)[] }[]): Buffer {
  const buf = Buffer.alloc((calls.length + 1) * BATCH_ENTRY);
  calls.forEach((c, j) => {
    buf.writeBigInt64LE(BigInt(c.nr), j * BATCH_ENTRY);
    c.args.forEach((a, k) => buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), j * BATCH_ENTRY + 8 + k * 8));
  });
  buf.writeBigInt64LE(-1n, calls.length * BATCH_ENTRY);
  return buf;
}

/** Finds the address of a `syscall` instruction (0f 05) in an executable mapping of the task. */
export function findSyscallInsn(pid: number, start: bigint, end: bigint): bigint | undefined {
  const code = readMemory(pid, start, Number(end - start));
  for (let i = 0; i + 1 < code.length; i++) if (code[i] === 0x0f && code[i + 1] === 0x05) return start + BigInt(i);
  return undefined;
}

/**
 * A stopped thread that cryo runs syscalls in. The constructor saves its registers and signal
 * mask, finish() puts them back (with the restart fix-up).
 */
export class RemoteThread {
  readonly tid: number;
  syscallIp: bigint;
  readonly saved: Regs;
  readonly savedMask: bigint;
  #regs: Regs;
  /**
   * Address of TRAP_CODE in the task, when it has one: each syscall then costs one stop (the
   * SIGTRAP of the int3, suppressed when the thread is resumed) instead of two. For tasks cryo
   * builds (restore); a dumped task's calls go through its guard instead.
   */
  trapIp: bigint | undefined;
  /**
   * Put back after every call (dump): between injected syscalls the thread waits at its stop —
   * a syscall exit, or the guard's signal stop, whose signal the tracer's waitpid already took —
   * with its own registers (restart fix-up applied) and signal mask, so that if cryo dies there
   * (SIGKILL, the OOM killer) the kernel lets it run on exactly where it was. While a call runs,
   * the guard code (`guard`) has the way back; only the vDSO-stepped calls that map and unmap
   * the scratch area have none. Tasks cryo builds (restore) and helper threads, which exit by
   * themselves, keep cryo's registers between calls.
   */
  readonly guarded: boolean;
  /** Its process's GUARD_CODE, while there is one (guarded threads): calls run through it. */
  guard: GuardArea | undefined;
  /** Number of syscalls injected: for stats and benchmarks. */
  count = 0;

  constructor(tid: number, syscallIp: bigint, trapIp?: bigint, guarded = false) {
    this.tid = tid;
    this.syscallIp = syscallIp;
    this.trapIp = trapIp;
    this.guarded = guarded;
    this.saved = getRegs(tid);
    this.#regs = this.saved.slice();
    this.savedMask = getSigmask(tid);
    if (!guarded) setSigmask(tid, this.#injectingMask(trapIp !== undefined));
  }

  /** Signals blocked while cryo's code runs in the thread: all, but SIGTRAP for trap mode (the kernel resets the handler of a blocked forced signal). */
  #injectingMask(trapping: boolean): bigint {
    return trapping ? ALL_BUT_SIGTRAP : ALL_SIGNALS;
  }

  /** Switches between trap mode (an address of TRAP_CODE) and stepping the vDSO syscall. */
  useTrap(trapIp: bigint | undefined): void {
    this.trapIp = trapIp;
    if (!this.guarded) setSigmask(this.tid, this.#injectingMask(trapIp !== undefined));
  }

  /**
   * Regs for running cryo's code: the saved ones with `ip`, and the thread's mask for it (guarded
   * threads: `mask`) — in that order, so that a cryo killed in between leaves a thread that runs
   * the guard code with its own mask, not its own code with cryo's.
   */
  #enter(regs: Regs, ip: bigint, mask: bigint): void {
    setReg(regs, 'orig_ax', -1);
    setReg(regs, 'ip', ip);
    setRegs(this.tid, regs);
    if (this.guarded) setSigmask(this.tid, mask);
    if (this.guard) killInCall();
  }

  /** The guard's block holds this thread's way back. */
  #claimGuard(g: GuardArea): void {
    if (g.owner === this.tid) return;
    const own = this.saved.slice();
    fixupRestart(own, true);
    this.write(g.code + BigInt(GUARD_BLOCK_OFF), guardBlock(own, this.savedMask, g.tgid, this.tid, g.stopSignal));
    g.owner = this.tid;
  }

  /** Runs one syscall; returns rax as a signed value (negative = -errno). */
  raw(nr: number, ...args: readonly (number | bigint)[]): bigint {
    const g = this.guard;
    if (g) {
      this.write(g.table, encodeBatch([{ nr, args }]));
      this.runBatch(g.code, g.table, 1);
      return this.read(g.table + 56n, 8).readBigInt64LE(0);
    }
    return this.#single(nr, args, false);
  }

  /**
   * Runs a clone, clone3 or fork: with a guard, at its clone entry, where a child born while cryo
   * is gone exits at once (rax 0) and the parent goes its way back.
   */
  rawClone(nr: number, ...args: readonly (number | bigint)[]): bigint {
    return this.#single(nr, args, true);
  }

  #single(nr: number, args: readonly (number | bigint)[], clone: boolean): bigint {
    const regs = this.#regs;
    regs.set(this.saved);
    setReg(regs, 'ax', nr);
    const argRegs = ['di', 'si', 'dx', 'r10', 'r8', 'r9'] as const;
    argRegs.forEach((r, i) => setReg(regs, r, BigInt(args[i] ?? 0)));
    const g = clone ? this.guard : undefined;
    if (g) this.#claimGuard(g);
    const trapping = !g && this.trapIp !== undefined;
    this.#enter(regs, g ? g.code + BigInt(GUARD_CLONE) : trapping ? this.trapIp! : this.syscallIp, this.#injectingMask(trapping));
    if (trapping) {
      this.#continueToTrap(nr);
    } else {
      this.#stepToSyscallStop('entry', nr);
      this.#stepToSyscallStop('exit', nr);
    }
    this.count++;
    const after = getRegs(this.tid);
    if (trapping) this.#checkTrapAt(after, this.trapIp! + BigInt(TRAP_CODE.length), nr);
    if (g && after[R.ip] !== g.code + BigInt(GUARD_CLONE_END)) throw new RuntimeError(`task ${this.tid} left cryo's clone entry (at 0x${after[R.ip]!.toString(16)}, injecting ${nr})`);
    this.#park();
    return sreg(after, 'ax');
  }

  /** A SIGTRAP stop is cryo's own only if the thread stopped right after the int3 of its code. */
  #checkTrapAt(regs: Regs, ip: bigint, nr: number): void {
    if (regs[R.ip] !== ip) throw new RuntimeError(`task ${this.tid} stopped with a SIGTRAP that is not cryo's (at 0x${regs[R.ip]!.toString(16)}, injecting ${nr})`);
  }

  /**
   * Runs BATCH_CODE (at `codeIp`, in trap mode) over the table at `table`; returns rbx at the
   * trap, which says how far it got. The syscalls count in `count`.
   */
  runBatch(codeIp: bigint, table: bigint, calls: number): bigint {
    const g = this.guard;
    if (!g && this.trapIp === undefined) throw new RuntimeError(`task ${this.tid}: batched syscalls need trap mode or a guard`);
    const regs = this.#regs;
    regs.set(this.saved);
    setReg(regs, 'bx', table);
    let after: Regs;
    if (g) {
      this.#claimGuard(g);
      const stopBit = g.stopSignal ? 1n << BigInt(g.stopSignal - 1) : 0n;
      this.#enter(regs, g.code, ALL_SIGNALS & ~stopBit);
      const stopIp = g.code + BigInt(GUARD_STOP_END);
      after = g.stopSignal ? this.#continueToSignal(g.stopSignal, stopIp) : this.#stepToExitAt(stopIp);
    } else {
      this.#enter(regs, codeIp, this.#injectingMask(true));
      this.#continueToTrap(-1);
      after = getRegs(this.tid);
      this.#checkTrapAt(after, codeIp + BigInt(BATCH_CODE.length), -1);
    }
    const end = after[R.bx]!;
    this.count += Math.min(calls, Number((end - table) / BigInt(BATCH_ENTRY)));
    this.#park();
    return end;
  }

  /** A guarded thread back to its own registers and mask, at the stop it is in. */
  #park(): void {
    if (this.guarded) this.finish({ ownRestartBlock: true });
  }

  /**
   * Lets the thread run to the guard's stop: its `sig` at `ip`. The same signal stopping it
   * anywhere else came from outside; the task ignores it, and so it is dropped.
   */
  #continueToSignal(sig: number, ip: bigint): Regs {
    for (;;) {
      cont(this.tid);
      const st = waitTask(this.tid);
      if (st.kind === 'stopped' && st.event === 0 && st.signal === sig) {
        const regs = getRegs(this.tid);
        if (regs[R.ip] === ip) return regs;
        continue;
      }
      throw new RuntimeError(`task ${this.tid} did not reach the end of cryo's injected syscalls: ${JSON.stringify(st)}`);
    }
  }

  /** Steps the thread from syscall to syscall until the exit of the one that ends at `ip` (the guard's stop, without a signal). */
  #stepToExitAt(ip: bigint): Regs {
    for (let inSyscall = false; ; ) {
      syscallStep(this.tid);
      const st = waitTask(this.tid);
      if (st.kind === 'stopped' && st.signal === (SIG.SIGTRAP | 0x80)) {
        inSyscall = !inSyscall;
        if (inSyscall) continue;
        const regs = getRegs(this.tid);
        if (regs[R.ip] === ip) return regs;
        continue;
      }
      throw new RuntimeError(`task ${this.tid} did not reach the end of cryo's injected syscalls: ${JSON.stringify(st)}`);
    }
  }

  #continueToTrap(nr: number): void {
    for (;;) {
      cont(this.tid);
      const st = waitTask(this.tid);
      if (st.kind === 'stopped' && st.event === 0 && st.signal === SIG.SIGTRAP) return;
      if (st.kind === 'stopped' && st.event !== 0) continue; // fork/clone events of an injected clone3
      throw new RuntimeError(`task ${this.tid} did not trap after injected syscall ${nr}: ${JSON.stringify(st)}`);
    }
  }

  /** Runs one syscall and throws SyscallError on failure. */
  call(name: string, nr: number, ...args: readonly (number | bigint)[]): bigint {
    const r = this.raw(nr, ...args);
    if (r < 0n && r > -4096n) throw new SyscallError(name, Number(-r), `injected in ${this.tid}: ${args.map(fmtArg).join(', ')}`);
    return r;
  }

  #stepToSyscallStop(which: 'entry' | 'exit', nr: number): void {
    for (;;) {
      syscallStep(this.tid);
      const st = waitTask(this.tid);
      if (st.kind === 'stopped' && st.signal === (SIG.SIGTRAP | 0x80)) return;
      if (st.kind === 'stopped' && st.event !== 0) {
        // fork/clone events of an injected clone3 happen between entry and exit: keep stepping.
        if (st.event === PTRACE_EVENT.FORK || st.event === PTRACE_EVENT.CLONE || st.event === PTRACE_EVENT.VFORK) continue;
        if (st.event === PTRACE_EVENT.STOP) continue;
      }
      if (st.kind === 'stopped' && st.signal === SIG.SIGSTOP) continue;
      throw new RuntimeError(
        `task ${this.tid} did not reach syscall-${which} of injected syscall ${nr}: ${JSON.stringify(st)}`,
      );
    }
  }

  /** Writes and reads through the task's memory (scratch areas). */
  write(addr: bigint, data: Uint8Array): void {
    writeMemory(this.tid, addr, data);
  }
  read(addr: bigint, len: number): Buffer {
    return readMemory(this.tid, addr, len);
  }

  /**
   * Puts the thread back: `regs` (default: the saved ones) with the restart fix-up applied —
   * we leave the thread at a syscall-exit stop, where the kernel would no longer restart an
   * interrupted syscall by itself — and the saved (or given) signal mask.
   */
  finish(opts: { regs?: Regs; mask?: bigint; ownRestartBlock: boolean }): void {
    const regs = (opts.regs ?? this.saved).slice();
    fixupRestart(regs, opts.ownRestartBlock);
    // The mask first: a cryo killed in between leaves a guarded thread at the guard's stop, whose
    // way back sets both.
    setSigmask(this.tid, opts.mask ?? this.savedMask);
    setRegs(this.tid, regs);
  }
}

/**
 * What the kernel does on the way back to user space after a syscall was interrupted, done by
 * hand: restart it (rax = orig_rax, rip back over the 2-byte `syscall`), or for
 * -ERESTART_RESTARTBLOCK call restart_syscall when the task's restart block is still its own,
 * else return -EINTR. orig_rax = -1 stops the kernel from doing it a second time.
 */
export function fixupRestart(regs: Regs, ownRestartBlock: boolean): void {
  const orig = sreg(regs, 'orig_ax');
  const ax = Number(sreg(regs, 'ax'));
  if (orig >= 0n) {
    if (ax === ERESTART.SYS || ax === ERESTART.NOINTR || ax === ERESTART.NOHAND) {
      setReg(regs, 'ax', orig);
      regs[R.ip] = regs[R.ip]! - 2n;
    } else if (ax === ERESTART.RESTARTBLOCK) {
      if (ownRestartBlock) {
        setReg(regs, 'ax', NR.restart_syscall);
        regs[R.ip] = regs[R.ip]! - 2n;
      } else {
        setReg(regs, 'ax', -EINTR);
      }
    }
  }
  setReg(regs, 'orig_ax', -1);
}

/** A syscall argument in an error message: small values in decimal, addresses in hex. */
export function fmtArg(a: number | bigint): string {
  const v = BigInt(a);
  return v > 0xffffn || v < -0xffffn ? `0x${BigInt.asUintN(64, v).toString(16)}` : String(v);
}

