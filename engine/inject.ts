// Syscall injection: run a syscall inside a stopped task, with plain ptrace and no parasite code.
// The thread is pointed at an existing `syscall` instruction (found in its vDSO) with the
// arguments in registers, and stepped with PTRACE_SYSCALL from syscall-entry to syscall-exit,
// where rax holds the result. Nothing of the task's memory is modified, and no SIGTRAP is raised.
// All signals are blocked while injecting so that nothing is delivered between our syscalls;
// signals that arrive meanwhile stay pending and are dumped as such.
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
   * builds (restore), and dumped ones whose SIGTRAP the int3 can't change (see dump.ts): the
   * kernel resets an ignored SIGTRAP to its default when it forces one.
   */
  trapIp: bigint | undefined;
  /**
   * Put back after every call (dump): between injected syscalls the thread waits at its stop —
   * a syscall exit, or the SIGTRAP of trap mode, whose signal the tracer's waitpid already took —
   * with its own registers (restart fix-up applied) and signal mask, so that if cryo dies there
   * (SIGKILL, the OOM killer) the kernel lets it run on exactly where it was. Only while a call
   * runs is it in cryo's hands (tens of µs). Tasks cryo builds (restore) and helper threads,
   * which exit by themselves, keep cryo's registers between calls.
   */
  readonly guarded: boolean;
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

  /** Regs for running cryo's code: the saved ones with `ip`, and the thread's mask for it (guarded threads). */
  #enter(regs: Regs, ip: bigint, trapping: boolean): void {
    setReg(regs, 'orig_ax', -1);
    setReg(regs, 'ip', ip);
    if (this.guarded) setSigmask(this.tid, this.#injectingMask(trapping));
    setRegs(this.tid, regs);
  }

  /** Runs one syscall; returns rax as a signed value (negative = -errno). */
  raw(nr: number, ...args: readonly (number | bigint)[]): bigint {
    const regs = this.#regs;
    regs.set(this.saved);
    setReg(regs, 'ax', nr);
    const argRegs = ['di', 'si', 'dx', 'r10', 'r8', 'r9'] as const;
    argRegs.forEach((r, i) => setReg(regs, r, BigInt(args[i] ?? 0)));
    const trapping = this.trapIp !== undefined;
    this.#enter(regs, trapping ? this.trapIp! : this.syscallIp, trapping);
    if (trapping) {
      this.#continueToTrap(nr);
    } else {
      this.#stepToSyscallStop('entry', nr);
      this.#stepToSyscallStop('exit', nr);
    }
    this.count++;
    const after = getRegs(this.tid);
    if (trapping) this.#checkTrapAt(after, this.trapIp! + BigInt(TRAP_CODE.length), nr);
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
    if (this.trapIp === undefined) throw new RuntimeError(`task ${this.tid}: batched syscalls need trap mode`);
    const regs = this.#regs;
    regs.set(this.saved);
    setReg(regs, 'bx', table);
    this.#enter(regs, codeIp, true);
    this.#continueToTrap(-1);
    const after = getRegs(this.tid);
    this.#checkTrapAt(after, codeIp + BigInt(BATCH_CODE.length), -1);
    const end = after[R.bx]!;
    this.count += Math.min(calls, Number((end - table) / BigInt(BATCH_ENTRY)));
    this.#park();
    return end;
  }

  /** A guarded thread back to its own registers and mask, at the stop it is in. */
  #park(): void {
    if (this.guarded) this.finish({ ownRestartBlock: true });
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
    setRegs(this.tid, regs);
    setSigmask(this.tid, opts.mask ?? this.savedMask);
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

