// /proc/PID/pagemap: one u64 per virtual page. On the memory hot path: one read per VMA, and
// the scan touches only the typed array (no BigInt or object per page).
import { closeSync, openSync, readSync } from 'node:fs';
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
