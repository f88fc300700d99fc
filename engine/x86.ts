// x86_64 register state in CRIU's shape: user_x86_regs_entry from user_regs_struct, and
// user_x86_fpregs_entry (+ xsave components) from the kernel's standard-format xsave area.
// Pure conversions; the component offsets come from CPUID leaf 0xD (read once from
// /dev/cpu/0/cpuid), falling back to Intel's standard layout.
import { closeSync, openSync, readSync } from 'node:fs';
import { REG_NAMES, newRegs, type Regs } from '../native/index.ts';

export interface XsaveLayout {
  /** Standard-format byte offset of each xsave component we carry, 0 when absent. */
  readonly ymm: number;
  readonly bndregs: number;
  readonly bndcsr: number;
  readonly opmask: number;
  readonly zmmHi256: number;
  readonly hi16Zmm: number;
  readonly pkru: number;
}

const INTEL_STANDARD: XsaveLayout = { ymm: 576, bndregs: 960, bndcsr: 1024, opmask: 1088, zmmHi256: 1152, hi16Zmm: 1664, pkru: 2688 };

export function xsaveLayout(): XsaveLayout {
  try {
    const fd = openSync('/dev/cpu/0/cpuid', 'r');
    try {
      const off = (sub: number): number => {
        const b = Buffer.alloc(16);
        readSync(fd, b, 0, 16, 0xdn | (BigInt(sub) << 32n));
        return b.readUInt32LE(0) ? b.readUInt32LE(4) : 0;
      };
      return { ymm: off(2), bndregs: off(3), bndcsr: off(4), opmask: off(5), zmmHi256: off(6), hi16Zmm: off(7), pkru: off(9) };
    } finally {
      closeSync(fd);
    }
  } catch {
    return INTEL_STANDARD;
  }
}

export type GpRegsEntry = Record<(typeof REG_NAMES)[number], bigint> & { mode: number };

export function regsToEntry(regs: Regs): GpRegsEntry {
  const e = { mode: 1 /* NATIVE */ } as GpRegsEntry;
  REG_NAMES.forEach((n, i) => (e[n] = regs[i]!));
  return e;
}

export function entryToRegs(e: Readonly<Record<string, unknown>>): Regs {
  const regs = newRegs();
  REG_NAMES.forEach((n, i) => (regs[i] = BigInt((e[n] as bigint | number | undefined) ?? 0)));
  return regs;
}

const XFEATURE = { YMM: 2, BNDREGS: 3, BNDCSR: 4, OPMASK: 5, ZMM_HI256: 6, HI16_ZMM: 7, PKRU: 9 } as const;

function u32s(buf: Buffer, off: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => buf.readUInt32LE(off + i * 4));
}
function u64s(buf: Buffer, off: number, n: number): bigint[] {
  return Array.from({ length: n }, (_, i) => buf.readBigUInt64LE(off + i * 8));
}

/** The kernel's xsave area → CRIU's user_x86_fpregs_entry (legacy fxsave area + components). */
export function xstateToFpregs(x: Buffer, layout: XsaveLayout): Record<string, unknown> {
  const fp: Record<string, unknown> = {
    cwd: x.readUInt16LE(0),
    swd: x.readUInt16LE(2),
    twd: x.readUInt16LE(4),
    fop: x.readUInt16LE(6),
    rip: x.readBigUInt64LE(8),
    rdp: x.readBigUInt64LE(16),
    mxcsr: x.readUInt32LE(24),
    mxcsr_mask: x.readUInt32LE(28),
    st_space: u32s(x, 32, 32),
    xmm_space: u32s(x, 160, 64),
    padding: u32s(x, 416, 24),
  };
  if (x.length > 576) {
    const bv = x.readBigUInt64LE(512);
    const has = (f: number, off: number): boolean => off > 0 && (bv & (1n << BigInt(f))) !== 0n;
    const xs: Record<string, unknown> = { xstate_bv: bv };
    if (has(XFEATURE.YMM, layout.ymm)) xs.ymmh_space = u32s(x, layout.ymm, 64);
    if (has(XFEATURE.BNDREGS, layout.bndregs)) xs.bndreg_state = u64s(x, layout.bndregs, 8);
    if (has(XFEATURE.BNDCSR, layout.bndcsr)) xs.bndcsr_state = u64s(x, layout.bndcsr, 8);
    if (has(XFEATURE.OPMASK, layout.opmask)) xs.opmask_reg = u64s(x, layout.opmask, 8);
    if (has(XFEATURE.ZMM_HI256, layout.zmmHi256)) xs.zmm_upper = u64s(x, layout.zmmHi256, 64);
    if (has(XFEATURE.HI16_ZMM, layout.hi16Zmm)) xs.hi16_zmm = u64s(x, layout.hi16Zmm, 128);
    if (has(XFEATURE.PKRU, layout.pkru)) xs.pkru = u32s(x, layout.pkru, 2);
    fp.xsave = xs;
  }
  return fp;
}

/**
 * CRIU's fpregs → an xsave area, written over `template` (a fresh thread's own area, which has
 * the right size and header); components absent from the image stay in their init state.
 */
export function fpregsToXstate(fp: Readonly<Record<string, any>>, template: Buffer, layout: XsaveLayout): Buffer {
  const x = Buffer.from(template);
  x.writeUInt16LE(fp.cwd ?? 0, 0);
  x.writeUInt16LE(fp.swd ?? 0, 2);
  x.writeUInt16LE(fp.twd ?? 0, 4);
  x.writeUInt16LE(fp.fop ?? 0, 6);
  x.writeBigUInt64LE(BigInt(fp.rip ?? 0), 8);
  x.writeBigUInt64LE(BigInt(fp.rdp ?? 0), 16);
  x.writeUInt32LE(fp.mxcsr ?? 0x1f80, 24);
  x.writeUInt32LE(fp.mxcsr_mask ?? 0, 28);
  (fp.st_space as number[] | undefined)?.forEach((v, i) => x.writeUInt32LE(v >>> 0, 32 + i * 4));
  (fp.xmm_space as number[] | undefined)?.forEach((v, i) => x.writeUInt32LE(v >>> 0, 160 + i * 4));
  const xs = fp.xsave as Record<string, any> | undefined;
  if (xs && x.length > 576) {
    let bv = x.readBigUInt64LE(512) | (BigInt(xs.xstate_bv ?? 0) & 0x3n);
    const put32 = (f: number, off: number, arr?: number[]): void => {
      if (!arr || !off || off + arr.length * 4 > x.length) return;
      arr.forEach((v, i) => x.writeUInt32LE(v >>> 0, off + i * 4));
      bv |= BigInt(xs.xstate_bv ?? 0) & (1n << BigInt(f));
    };
    const put64 = (f: number, off: number, arr?: bigint[]): void => {
      if (!arr || !off || off + arr.length * 8 > x.length) return;
      arr.forEach((v, i) => x.writeBigUInt64LE(BigInt(v), off + i * 8));
      bv |= BigInt(xs.xstate_bv ?? 0) & (1n << BigInt(f));
    };
    put32(XFEATURE.YMM, layout.ymm, xs.ymmh_space);
    put64(XFEATURE.BNDREGS, layout.bndregs, xs.bndreg_state);
    put64(XFEATURE.BNDCSR, layout.bndcsr, xs.bndcsr_state);
    put64(XFEATURE.OPMASK, layout.opmask, xs.opmask_reg);
    put64(XFEATURE.ZMM_HI256, layout.zmmHi256, xs.zmm_upper);
    put64(XFEATURE.HI16_ZMM, layout.hi16Zmm, xs.hi16_zmm);
    put32(XFEATURE.PKRU, layout.pkru, xs.pkru);
    x.writeBigUInt64LE(bv, 512);
  }
  return x;
}

/** GDT TLS slots of a 64-bit task: CRIU writes three empty user_desc entries (12, 13, 14). */
export function emptyTls(): Record<string, unknown>[] {
  return [12, 13, 14].map((entry_number) => ({
    entry_number,
    base_addr: 0,
    limit: 0,
    seg_32bit: false,
    contents_h: false,
    contents_l: false,
    read_exec_only: true,
    limit_in_pages: false,
    seg_not_present: true,
    usable: false,
  }));
}
