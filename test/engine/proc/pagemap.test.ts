import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PM_FILE, PM_PRESENT, PM_SWAP, presentRuns, readMaps, readPagemap } from '../../../engine/proc/index.ts';
import { buildTarget, startTarget } from '../../helpers/targets.ts';
import { tmpDir } from '../../helpers/tmp.ts';

const P = PM_PRESENT;
const base = 0x7f0000000000n;

test('presentRuns merges present and swapped pages', () => {
  const e = new BigUint64Array([P | 5n, P | 6n, 0n, PM_SWAP | 1n, P | PM_FILE, 0n, 0n, P]);
  assert.deepEqual(presentRuns(e, base, false), [
    { vaddr: base, nrPages: 2 },
    { vaddr: base + 3n * 4096n, nrPages: 2 },
    { vaddr: base + 7n * 4096n, nrPages: 1 },
  ]);
});

test('presentRuns privateOnly skips file and shared pages', () => {
  const e = new BigUint64Array([P | PM_FILE, P, P, P | PM_FILE, PM_FILE, P]);
  assert.deepEqual(presentRuns(e, base, true), [
    { vaddr: base + 4096n, nrPages: 2 },
    { vaddr: base + 5n * 4096n, nrPages: 1 },
  ]);
});

test('presentRuns: empty, all absent, and a view into a larger array', () => {
  assert.deepEqual(presentRuns(new BigUint64Array(0), base, false), []);
  assert.deepEqual(presentRuns(new BigUint64Array(9), base, false), []);
  const big = new BigUint64Array([P, 0n, P, P]);
  assert.deepEqual(presentRuns(big.subarray(2), base, false), [{ vaddr: base, nrPages: 2 }]);
});

test('live: pagemap of a child with known touched pages', async (t) => {
  const dir = tmpDir('cryo-pagemap', t);
  const target = await startTarget([buildTarget('pages'), dir], { t });
  const m = /anon=([0-9a-f]+) file=([0-9a-f]+)/.exec(target.output());
  assert.ok(m, target.output());
  const anon = BigInt(`0x${m[1]}`);
  const file = BigInt(`0x${m[2]}`);
  const page = 4096n;

  const a = readPagemap(target.pid, anon, anon + 16n * page);
  assert.equal(a.length, 16);
  const want = [
    { vaddr: anon, nrPages: 3 },
    { vaddr: anon + 5n * page, nrPages: 1 },
    { vaddr: anon + 8n * page, nrPages: 3 },
    { vaddr: anon + 15n * page, nrPages: 1 },
  ];
  assert.deepEqual(presentRuns(a, anon, false), want);
  assert.deepEqual(presentRuns(a, anon, true), want);

  const f = readPagemap(target.pid, file, file + 8n * page);
  assert.deepEqual(presentRuns(f, file, false), [{ vaddr: file, nrPages: 8 }]);
  assert.deepEqual(presentRuns(f, file, true), [{ vaddr: file + 3n * page, nrPages: 1 }]);

  // past TASK_SIZE the kernel reports nothing: zeros, no error
  const vsyscall = readMaps(target.pid).find((v) => v.path === '[vsyscall]');
  if (vsyscall !== undefined) assert.deepEqual(presentRuns(readPagemap(target.pid, vsyscall.start, vsyscall.end), vsyscall.start, false), []);
});
