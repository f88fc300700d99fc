import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSync, closeSync } from 'node:fs';
import { PM_FILE, PM_PRESENT, PM_SWAP, SCAN_END, presentRuns, readMaps, readPagemap, runsInVma, scanPagemapInBackground, type ScannedRun } from '../../../engine/proc/index.ts';
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

test('runsInVma cuts scanned runs to a VMA, from a moving index; privateOnly drops file runs', () => {
  const pg = 4096n;
  const scanned: ScannedRun[] = [
    { start: base, end: base + 4n * pg, file: false },
    { start: base + 4n * pg, end: base + 6n * pg, file: true },
    { start: base + 8n * pg, end: base + 20n * pg, file: false },
  ];
  // VMA [2, 10): the tail of the first run and the file run (one run when both kinds are taken), the head of the third
  const a = runsInVma(scanned, 0, base + 2n * pg, base + 10n * pg, false);
  assert.deepEqual(a.runs, [
    { vaddr: base + 2n * pg, nrPages: 4 },
    { vaddr: base + 8n * pg, nrPages: 2 },
  ]);
  assert.equal(a.next, 0);
  assert.deepEqual(runsInVma(scanned, 0, base + 2n * pg, base + 10n * pg, true).runs, [
    { vaddr: base + 2n * pg, nrPages: 2 },
    { vaddr: base + 8n * pg, nrPages: 2 },
  ]);
  // the next VMA, [10, 12), starts from the run that reaches into it
  const b = runsInVma(scanned, a.next, base + 10n * pg, base + 12n * pg, true);
  assert.deepEqual(b.runs, [{ vaddr: base + 10n * pg, nrPages: 2 }]);
  assert.equal(b.next, 2);
  // a VMA in a hole, and one past every run
  assert.deepEqual(runsInVma(scanned, 0, base + 6n * pg, base + 8n * pg, false).runs, []);
  assert.deepEqual(runsInVma(scanned, 2, base + 30n * pg, base + 31n * pg, false), { runs: [], next: 3 });
});

/**
 * Runs of each VMA of `pid` by PAGEMAP_SCAN (a VMA at a time, and the whole address space at once)
 * and by reading the pagemap, for both policies.
 */
async function threeWays(pid: number): Promise<{ scanned: unknown[]; wide: unknown[]; read: unknown[] }> {
  const vmas = readMaps(pid).filter((v) => v.path !== '[vsyscall]');
  const all = await scanPagemapInBackground(pid, 0n, SCAN_END);
  assert.ok(all, 'this kernel has PAGEMAP_SCAN (6.7+)');
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    const scanned: unknown[] = [];
    const wide: unknown[] = [];
    const read: unknown[] = [];
    const next = [0, 0];
    for (const v of vmas) {
      const runs = await scanPagemapInBackground(pid, v.start, v.end);
      assert.ok(runs);
      const entries = readPagemap(pid, v.start, v.end, fd);
      for (const [k, privateOnly] of [false, true].entries()) {
        scanned.push([v.path, privateOnly, runsInVma(runs, 0, v.start, v.end, privateOnly).runs]);
        const w = runsInVma(all, next[k]!, v.start, v.end, privateOnly);
        next[k] = w.next;
        wide.push([v.path, privateOnly, w.runs]);
        read.push([v.path, privateOnly, presentRuns(entries, v.start, privateOnly)]);
      }
    }
    return { scanned, wide, read };
  } finally {
    closeSync(fd);
  }
}

test('live: PAGEMAP_SCAN finds the same runs as reading the pagemap (anon, COW, shared, PROT_NONE, brk)', async (t) => {
  const dir = tmpDir('cryo-pagemap-scan', t);
  const target = await startTarget([buildTarget('mmaps'), `${dir}/log`, dir], { t });
  const { scanned, wide, read } = await threeWays(target.pid);
  assert.deepEqual(scanned, read);
  assert.deepEqual(wide, read);
  assert.ok(read.length > 20, `${read.length} VMA × policy pairs`);
  // the COW mapping: some pages the task's own, the rest the file's
  const cow = read.filter((r) => (r as [string])[0].endsWith('/priv.bin')) as [string, boolean, unknown[]][];
  assert.ok(cow.some(([, privateOnly, runs]) => privateOnly && runs.length > 0));
  // and a target with holes in its anonymous and file mappings
  const pages = await startTarget([buildTarget('pages'), dir], { t });
  const p = await threeWays(pages.pid);
  assert.deepEqual(p.scanned, p.read);
  assert.deepEqual(p.wide, p.read);
});
