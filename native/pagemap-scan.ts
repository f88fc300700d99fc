// PAGEMAP_SCAN (Linux 6.7): the kernel walks a range of a task's page tables and returns the runs
// of pages in the asked categories, where reading /proc/PID/pagemap returns one u64 per page for
// cryo to scan (at 512 MiB: a 1 MiB read and 131,072 entries looked at while the task is frozen).
import { check } from './check.ts';
import { addressOf, callInBackground, sys } from './libc.ts';

/** Page categories (linux/fs.h PAGE_IS_*). */
export const PAGE_IS = {
  FILE: 1 << 2,
  PRESENT: 1 << 3,
  SWAPPED: 1 << 4,
  PFNZERO: 1 << 5,
} as const;

const PAGEMAP_SCAN = 0xc0606610; // _IOWR('f', 16, struct pm_scan_arg)
const ARG_BYTES = 96;
/** struct page_region: start, end, categories (u64 each). */
export const REGION_WORDS = 3;

export interface PagemapQuery {
  readonly start: bigint;
  readonly end: bigint;
  /** Categories a page must have (after `inverted` flips them). */
  readonly mask?: number;
  /** Categories of which a page must have one (after `inverted`); 0: no such condition. */
  readonly anyOf?: number;
  readonly inverted?: number;
  /** Categories reported with each region; adjacent pages differing in them are separate regions. */
  readonly returned: number;
}

export interface PagemapScanResult {
  /** Regions filled in `vec` (REGION_WORDS words each). */
  readonly count: number;
  /** Where the walk stopped: `end`, or earlier when `vec` was full. */
  readonly walkEnd: bigint;
}

function scanArg(q: PagemapQuery, vec: BigUint64Array): Buffer {
  const arg = Buffer.alloc(ARG_BYTES);
  const words = [BigInt(ARG_BYTES), 0n, q.start, q.end, 0n, addressOf(new Uint8Array(vec.buffer, vec.byteOffset, vec.byteLength)), BigInt(Math.floor(vec.length / REGION_WORDS)), 0n];
  words.forEach((w, i) => arg.writeBigUInt64LE(w, i * 8));
  arg.writeBigUInt64LE(BigInt(q.inverted ?? 0), 64);
  arg.writeBigUInt64LE(BigInt(q.mask ?? 0), 72);
  arg.writeBigUInt64LE(BigInt(q.anyOf ?? 0), 80);
  arg.writeBigUInt64LE(BigInt(q.returned), 88);
  return arg;
}

/**
 * One PAGEMAP_SCAN ioctl on `fd`, an open /proc/PID/pagemap. Throws SyscallError — ENOTTY on a
 * kernel without it.
 */
export function pagemapScan(fd: number, q: PagemapQuery, vec: BigUint64Array): PagemapScanResult {
  const arg = scanArg(q, vec);
  const count = check(sys.ioctlBuf(fd, PAGEMAP_SCAN, arg), 'ioctl', `PAGEMAP_SCAN, fd ${fd}, 0x${q.start.toString(16)}-0x${q.end.toString(16)}`);
  return { count, walkEnd: arg.readBigUInt64LE(32) };
}

/**
 * pagemapScan on one of libuv's pool threads: the kernel's page-table walk runs while cryo's
 * thread goes on. A failed call is made again here, synchronously, for its error (the pool
 * thread's errno is not kept).
 */
export async function pagemapScanInBackground(fd: number, q: PagemapQuery, vec: BigUint64Array): Promise<PagemapScanResult> {
  const arg = scanArg(q, vec);
  const count = await callInBackground(sys.ioctlAt, fd, PAGEMAP_SCAN, addressOf(arg));
  if (count < 0) return pagemapScan(fd, q, vec);
  // `arg` and `vec` are the caller's until here: the pool thread wrote into them.
  return { count, walkEnd: arg.readBigUInt64LE(32) };
}
