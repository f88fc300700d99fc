// CRIU's fpregs shape ↔ the kernel's xsave area: a round trip keeps every register we carry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fpregsToXstate, xsaveLayout, xstateToFpregs, regsToEntry, entryToRegs } from '../../engine/x86.ts';
import { newRegs } from '../../native/index.ts';

test('xsave → CRIU fpregs → xsave keeps x87, SSE, AVX and AVX-512 state', () => {
  const layout = xsaveLayout();
  const x = Buffer.alloc(2696);
  for (let i = 0; i < 512; i++) x[i] = (i * 7) & 0xff;
  x.writeBigUInt64LE(0xe7n, 512); // x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM
  for (const off of [layout.ymm, layout.opmask, layout.zmmHi256, layout.hi16Zmm]) if (off) for (let i = 0; i < 64; i++) x[off + i] = (off + i) & 0xff;
  const fp = xstateToFpregs(x, layout);
  assert.equal((fp.st_space as number[]).length, 32);
  assert.equal((fp.xmm_space as number[]).length, 64);
  const back = fpregsToXstate(fp, Buffer.alloc(x.length), layout);
  assert.deepEqual(back.subarray(0, 416), x.subarray(0, 416), 'legacy area');
  for (const off of [layout.ymm, layout.opmask, layout.zmmHi256, layout.hi16Zmm]) if (off) assert.deepEqual(back.subarray(off, off + 64), x.subarray(off, off + 64));
});

test('general registers map onto CRIU fields exactly, 64-bit values intact', () => {
  const r = newRegs();
  r.forEach((_, i) => (r[i] = 0xffffffffffff0000n + BigInt(i)));
  const e = regsToEntry(r);
  assert.equal(e.r15, 0xffffffffffff0000n);
  assert.equal(e.gs, 0xffffffffffff0000n + 26n);
  assert.equal(e.mode, 1);
  assert.deepEqual(entryToRegs(e), r);
});
