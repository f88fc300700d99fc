// Typed ptrace requests. All of them must come from the thread that attached the tracee: cryo
// keeps every ptrace call synchronous on Node's main thread.
import { check, SyscallError } from './check.ts';
import { NT_X86_XSTATE, PTRACE, WAIT } from './constants.ts';
import { addressOf, lastErrno, sys } from './libc.ts';
import { newRegs, regsBytes, type Regs } from './regs.ts';

export function seize(tid: number, options: number): void {
  check(sys.ptrace(PTRACE.SEIZE, tid, 0, options), 'ptrace', `PTRACE_SEIZE, ${tid}`);
}
export function setOptions(tid: number, options: number): void {
  check(sys.ptrace(PTRACE.SETOPTIONS, tid, 0, options), 'ptrace', `PTRACE_SETOPTIONS, ${tid}`);
}
export function interrupt(tid: number): void {
  check(sys.ptrace(PTRACE.INTERRUPT, tid, 0, 0), 'ptrace', `PTRACE_INTERRUPT, ${tid}`);
}
export function cont(tid: number, sig = 0): void {
  check(sys.ptrace(PTRACE.CONT, tid, 0, sig), 'ptrace', `PTRACE_CONT, ${tid}`);
}
export function syscallStep(tid: number, sig = 0): void {
  check(sys.ptrace(PTRACE.SYSCALL, tid, 0, sig), 'ptrace', `PTRACE_SYSCALL, ${tid}`);
}
export function detach(tid: number, sig = 0): void {
  check(sys.ptrace(PTRACE.DETACH, tid, 0, sig), 'ptrace', `PTRACE_DETACH, ${tid}`);
}
/** Detach that never throws: used on rollback paths where the task may already be gone. */
export function tryDetach(tid: number, sig = 0): boolean {
  return sys.ptrace(PTRACE.DETACH, tid, 0, sig) === 0;
}

export function getRegs(tid: number): Regs {
  const regs = newRegs();
  check(sys.ptraceBuf(PTRACE.GETREGS, tid, 0, regsBytes(regs)), 'ptrace', `PTRACE_GETREGS, ${tid}`);
  return regs;
}
export function setRegs(tid: number, regs: Regs): void {
  check(sys.ptraceBuf(PTRACE.SETREGS, tid, 0, regsBytes(regs)), 'ptrace', `PTRACE_SETREGS, ${tid}`);
}

function iovecFor(buf: Uint8Array, len = buf.byteLength): Buffer {
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(addressOf(buf), 0);
  iov.writeBigUInt64LE(BigInt(len), 8);
  return iov;
}

/** The full xsave area in the kernel's user ABI (standard, non-compacted) format. */
export function getXstate(tid: number): Buffer {
  const buf = Buffer.alloc(16384);
  const iov = iovecFor(buf);
  check(sys.ptraceBuf(PTRACE.GETREGSET, tid, NT_X86_XSTATE, iov), 'ptrace', `PTRACE_GETREGSET NT_X86_XSTATE, ${tid}`);
  return buf.subarray(0, Number(iov.readBigUInt64LE(8)));
}
export function setXstate(tid: number, xstate: Buffer): void {
  check(sys.ptraceBuf(PTRACE.SETREGSET, tid, NT_X86_XSTATE, iovecFor(xstate)), 'ptrace', `PTRACE_SETREGSET NT_X86_XSTATE, ${tid}`);
}

export function getSigmask(tid: number): bigint {
  const buf = Buffer.alloc(8);
  check(sys.ptraceBuf(PTRACE.GETSIGMASK, tid, 8, buf), 'ptrace', `PTRACE_GETSIGMASK, ${tid}`);
  return buf.readBigUInt64LE(0);
}
export function setSigmask(tid: number, mask: bigint): void {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(mask, 0);
  check(sys.ptraceBuf(PTRACE.SETSIGMASK, tid, 8, buf), 'ptrace', `PTRACE_SETSIGMASK, ${tid}`);
}

export const SIGINFO_SIZE = 128;
/** Queued signals, without dequeuing them: the thread's own, or the process-wide (shared) queue. */
export function peekSiginfo(tid: number, shared: boolean): Buffer[] {
  const out: Buffer[] = [];
  const batch = 32;
  for (let off = 0; ; off += batch) {
    const args = Buffer.alloc(16);
    args.writeBigUInt64LE(BigInt(off), 0);
    args.writeUInt32LE(shared ? 1 : 0, 8);
    args.writeInt32LE(batch, 12);
    const buf = Buffer.alloc(SIGINFO_SIZE * batch);
    const n = check(sys.ptraceBuf(PTRACE.PEEKSIGINFO, tid, addressOf(args), buf), 'ptrace', `PTRACE_PEEKSIGINFO, ${tid}`);
    for (let i = 0; i < n; i++) out.push(Buffer.from(buf.subarray(i * SIGINFO_SIZE, (i + 1) * SIGINFO_SIZE)));
    if (n < batch) return out;
  }
}

export interface RseqConfig {
  readonly rseqAbiPointer: bigint;
  readonly rseqAbiSize: number;
  readonly signature: number;
  readonly flags: number;
}
export function getRseqConfig(tid: number): RseqConfig {
  const buf = Buffer.alloc(24);
  check(sys.ptraceBuf(PTRACE.GET_RSEQ_CONFIGURATION, tid, 24, buf), 'ptrace', `PTRACE_GET_RSEQ_CONFIGURATION, ${tid}`);
  return {
    rseqAbiPointer: buf.readBigUInt64LE(0),
    rseqAbiSize: buf.readUInt32LE(8),
    signature: buf.readUInt32LE(12),
    flags: buf.readUInt32LE(16),
  };
}

export function getEventMsg(tid: number): number {
  const buf = Buffer.alloc(8);
  check(sys.ptraceBuf(PTRACE.GETEVENTMSG, tid, 0, buf), 'ptrace', `PTRACE_GETEVENTMSG, ${tid}`);
  return Number(buf.readBigUInt64LE(0));
}

export function getSiginfo(tid: number): Buffer {
  const buf = Buffer.alloc(SIGINFO_SIZE);
  check(sys.ptraceBuf(PTRACE.GETSIGINFO, tid, 0, buf), 'ptrace', `PTRACE_GETSIGINFO, ${tid}`);
  return buf;
}

export type WaitStatus =
  | { readonly pid: number; readonly kind: 'exited'; readonly code: number }
  | { readonly pid: number; readonly kind: 'signaled'; readonly signal: number }
  | { readonly pid: number; readonly kind: 'stopped'; readonly signal: number; readonly event: number }
  | { readonly pid: 0; readonly kind: 'none' };

export function decodeWaitStatus(pid: number, status: number): WaitStatus {
  if (pid === 0) return { pid: 0, kind: 'none' };
  const low = status & 0x7f;
  if (low === 0) return { pid, kind: 'exited', code: (status >> 8) & 0xff };
  if ((status & 0xff) === 0x7f) return { pid, kind: 'stopped', signal: (status >> 8) & 0xff, event: (status >>> 16) & 0xffff };
  return { pid, kind: 'signaled', signal: low };
}

/** waitpid(pid, __WALL | flags), retrying EINTR. */
export function waitTask(pid: number, flags = 0): WaitStatus {
  const st = Buffer.alloc(4);
  for (;;) {
    const r = sys.waitpid(pid, st, WAIT.__WALL | flags);
    if (r >= 0) return decodeWaitStatus(r, st.readInt32LE(0));
    const errno = lastErrno();
    if (errno !== 4) throw new SyscallError('waitpid', errno, String(pid));
  }
}
