// /proc/PID/pagemap: one u64 per virtual page. On the memory hot path: one read per VMA, and
// the scan touches only the typed array (no BigInt or object per page) — or, where the kernel
// has PAGEMAP_SCAN (6.7), the runs of existing pages found by the kernel.
import { closeSync, openSync, readSync } from 'node:fs';
import { RuntimeError } from '../../errors.ts';
import { PAGE_IS, REGION_WORDS, pagemapScan, pagemapScanInBackground, type PagemapQuery } from '../../native/index.ts';
import { ioError, parseError } from './io.ts';

export const PAGE_SIZE = 4096;
export const PM_PRESENT = 1n << 63n;
export const PM_SWAP = 1n << 62n;
/** Page is file-backed or shared-anon: not exclusively this task's copy. */
export const PM_FILE = 1n << 61n;
/** Bits 0-54: the page frame number (zero without CAP_SYS_ADMIN). */
export const PM_PFN_MASK = (1n << 55n) - 1n;

// The same three flags in the high 32-bit half of a little-endian entry.
const HI_PRESENT = 0x80000000;
const HI_SWAP = 0x40000000;
const HI_FILE = 0x20000000;

export interface PageRun {
  readonly vaddr: bigint;
  readonly nrPages: number;
}

/**
 * Merges consecutive pages that exist (present or swapped) into runs. With `privateOnly`, only
 * pages with PM_FILE clear count: the anonymous and copied-on-write pages of a private mapping.
 */
export function presentRuns(entries: BigUint64Array, startVaddr: bigint, privateOnly: boolean): PageRun[] {
  const hi = new Uint32Array(entries.buffer, entries.byteOffset, entries.length * 2);
  const runs: PageRun[] = [];
  let runStart = -1;
  const n = entries.length;
  for (let i = 0; i < n; i++) {
    const h = hi[i * 2 + 1]!;
    const take = (h & (HI_PRESENT | HI_SWAP)) !== 0 && (!privateOnly || (h & HI_FILE) === 0);
    if (take) {
      if (runStart < 0) runStart = i;
    } else if (runStart >= 0) {
      runs.push({ vaddr: startVaddr + BigInt(runStart * PAGE_SIZE), nrPages: i - runStart });
      runStart = -1;
    }
  }
  if (runStart >= 0) runs.push({ vaddr: startVaddr + BigInt(runStart * PAGE_SIZE), nrPages: n - runStart });
  return runs;
}

/**
 * Reads the entries for [start, end) (page-aligned) in one positional read. Pages the kernel
 * reports nothing for (past TASK_SIZE, e.g. [vsyscall]) read as zero. Pass `fd` of an open
 * /proc/PID/pagemap to reuse it across VMAs.
 */
export function readPagemap(pid: number, start: bigint, end: bigint, fd?: number): BigUint64Array {
  const page = BigInt(PAGE_SIZE);
  if (start % page !== 0n || end % page !== 0n || end < start) throw parseError('pagemap', `bad range 0x${start.toString(16)}-0x${end.toString(16)}`);
  const path = `/proc/${pid}/pagemap`;
  const out = new BigUint64Array(Number((end - start) / page));
  const bytes = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  let own: number | undefined;
  try {
    if (fd === undefined) own = openSync(path, 'r');
    const f = fd ?? own!;
    const base = (start / page) * 8n;
    let done = 0;
    while (done < bytes.length) {
      const got = readSync(f, bytes, done, bytes.length - done, base + BigInt(done));
      if (got === 0) break;
      done += got;
    }
  } catch (e) {
    throw ioError(path, e);
  } finally {
    if (own !== undefined) closeSync(own);
  }
  return out;
}

/** A run of existing pages (present or swapped) as PAGEMAP_SCAN reports it: [start, end). */
export interface ScannedRun {
  readonly start: bigint;
  readonly end: bigint;
  /** PM_FILE: file-backed or shared-anon pages (not the task's own copy). */
  readonly file: boolean;
}

/** Regions a scan takes per call (384 KiB). */
const SCAN_REGIONS = 16384;
/** Where a scan of a task's whole user address space ends (47 bits; a VMA above, with 5-level paging, is scanned on its own). */
export const SCAN_END = 0x7ffffffff000n;
const EXISTING: Omit<PagemapQuery, 'start' | 'end'> = { anyOf: PAGE_IS.PRESENT | PAGE_IS.SWAPPED, returned: PAGE_IS.FILE };
/** The kernel answered ENOTTY or EINVAL once: it has no PAGEMAP_SCAN, don't ask again. */
let scanMissing = false;

/** Whether PAGEMAP_SCAN can be used on `fd` (an empty scan: no walk). CRYO_PAGEMAP_SCAN=0 (tests): as on a kernel without it. */
function scanAvailable(fd: number): boolean {
  if (scanMissing || process.env.CRYO_PAGEMAP_SCAN === '0') return false;
  try {
    pagemapScan(fd, { start: 0n, end: 0n, ...EXISTING }, new BigUint64Array(0));
    return true;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOTTY' || code === 'EINVAL') {
      scanMissing = true;
      return false;
    }
    throw e;
  }
}

/** Appends the `count` regions in `vec` to `out`, joining one cut where the previous call's output was full. */
function appendRegions(out: ScannedRun[], vec: BigUint64Array, count: number): void {
  for (let i = 0; i < count; i++) {
    const s = vec[i * REGION_WORDS]!;
    const e = vec[i * REGION_WORDS + 1]!;
    const file = (vec[i * REGION_WORDS + 2]! & BigInt(PAGE_IS.FILE)) !== 0n;
    const last = out[out.length - 1];
    if (last && last.end === s && last.file === file) out[out.length - 1] = { start: last.start, end: e, file };
    else out.push({ start: s, end: e, file });
  }
}

function noProgress(at: bigint): RuntimeError {
  return new RuntimeError(`PAGEMAP_SCAN made no progress at 0x${at.toString(16)}`);
}

/**
 * The existing pages of task `pid`'s [start, end), found by PAGEMAP_SCAN on libuv's pool while
 * cryo's thread goes on: runs split where pages stop existing or their PM_FILE changes, where
 * reading /proc/PID/pagemap gives one u64 per page to look at. The kernel walks only the VMAs:
 * the whole user address space may be asked for. Undefined, at once, on a kernel without
 * PAGEMAP_SCAN (read the pagemap then).
 */
export function scanPagemapInBackground(pid: number, start: bigint, end: bigint): Promise<ScannedRun[]> | undefined {
  const path = `/proc/${pid}/pagemap`;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError(path, e);
  }
  let ok = false;
  try {
    ok = scanAvailable(fd);
  } finally {
    if (!ok) closeSync(fd);
  }
  if (!ok) return undefined;
  return (async () => {
    try {
      const vec = new BigUint64Array(SCAN_REGIONS * REGION_WORDS);
      const out: ScannedRun[] = [];
      for (let at = start; at < end; ) {
        const r = await pagemapScanInBackground(fd, { start: at, end, ...EXISTING }, vec);
        appendRegions(out, vec, r.count);
        if (r.walkEnd <= at) throw noProgress(at);
        at = r.walkEnd;
      }
      return out;
    } finally {
      closeSync(fd);
    }
  })();
}

/**
 * The pages of the VMA [start, end) in `scanned` (sorted, from scanPagemapInBackground over a range holding
 * the VMA), from index `from` on, as PageRuns; with `privateOnly`, only runs with PM_FILE clear.
 * Returns them and the index of the first run that may reach past the VMA (the next VMA's `from`).
 */
export function runsInVma(scanned: readonly ScannedRun[], from: number, start: bigint, end: bigint, privateOnly: boolean): { runs: PageRun[]; next: number } {
  const runs: PageRun[] = [];
  let i = from;
  while (i < scanned.length && scanned[i]!.end <= start) i++;
  for (let j = i; j < scanned.length && scanned[j]!.start < end; j++) {
    const r = scanned[j]!;
    if (privateOnly && r.file) continue;
    const s = r.start > start ? r.start : start;
    const e = r.end < end ? r.end : end;
    const pages = Number((e - s) / BigInt(PAGE_SIZE));
    const last = runs[runs.length - 1];
    // Runs split only by PM_FILE are one run when both kinds are taken.
    if (last && last.vaddr + BigInt(last.nrPages * PAGE_SIZE) === s) runs[runs.length - 1] = { vaddr: last.vaddr, nrPages: last.nrPages + pages };
    else runs.push({ vaddr: s, nrPages: pages });
  }
  return { runs, next: i };
}
