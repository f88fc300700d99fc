// process_vm_writev on a thread of libuv's pool (restore fills half of the pages this way).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressOf, writeRangesInBackground } from '../../native/index.ts';

test('writeRangesInBackground writes the ranges in order and stops short at one it cannot write', async () => {
  // Our own process stands for the task: the kernel does the same for any pid we may trace.
  const a = Buffer.alloc(8192);
  const b = Buffer.alloc(4096);
  const src = Buffer.alloc(8192 + 4096 + 4096);
  for (let i = 0; i < src.length; i++) src[i] = (i * 7 + 3) & 0xff;
  const all = await writeRangesInBackground(process.pid, src.subarray(0, 12288), [
    { addr: addressOf(a), len: 8192 },
    { addr: addressOf(b), len: 4096 },
  ]);
  assert.equal(all, 12288);
  assert.ok(a.equals(src.subarray(0, 8192)) && b.equals(src.subarray(8192, 12288)));

  const c = Buffer.alloc(4096);
  const short = await writeRangesInBackground(process.pid, src, [
    { addr: addressOf(c), len: 4096 },
    { addr: 0x1000n, len: 4096 }, // never mapped
    { addr: addressOf(a), len: 4096 },
  ]);
  assert.equal(short, 4096, 'stops at the unwritable range');
  assert.ok(c.equals(src.subarray(0, 4096)));
  assert.ok(a.subarray(0, 4096).equals(src.subarray(0, 4096)), 'the range after it is left alone (still the first write)');
});
