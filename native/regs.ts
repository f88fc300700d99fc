// struct user_regs_struct (x86_64): 27 u64 in this order — the same order as CRIU's
// user_x86_regs_entry fields 1..27, so images map onto it index by index.
export const REG_NAMES = [
  'r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8', 'ax', 'cx', 'dx', 'si', 'di',
  'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs',
] as const;
export type RegName = (typeof REG_NAMES)[number];
export const USER_REGS_SIZE = REG_NAMES.length * 8;

/** Index of each register in a Regs array. */
export const R = Object.fromEntries(REG_NAMES.map((n, i) => [n, i])) as { readonly [K in RegName]: number };

/** A thread's general registers: a view over a 216-byte buffer ready for PTRACE_GETREGS/SETREGS. */
export type Regs = BigUint64Array;

export function newRegs(): Regs {
  return new BigUint64Array(REG_NAMES.length);
}

export function regsBytes(regs: Regs): Uint8Array {
  return new Uint8Array(regs.buffer, regs.byteOffset, regs.byteLength);
}

/** A register as a signed 64-bit value (rax holds -errno after a failed syscall). */
export function sreg(regs: Regs, name: RegName): bigint {
  return BigInt.asIntN(64, regs[R[name]]!);
}

export function setReg(regs: Regs, name: RegName, value: bigint | number): void {
  regs[R[name]] = BigInt.asUintN(64, BigInt(value));
}
