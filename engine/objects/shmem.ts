// Shared memory objects: MAP_SHARED|MAP_ANONYMOUS and shared /dev/zero mappings, and memfds.
// Each is dumped once per object (its inode, the `shmid`), as CRIU stores shared memory:
// pagemap-shmem-<shmid>.img (offsets from the object's start) and a pages image with the pages
// that are not all zeros. The content is read from the object itself — through
// /proc/PID/map_files/START-END, or a memfd's fd — not from the page tables of the processes that
// map it: a page written by a process that has since exited or unmapped it (a postgres backend
// filling shared buffers) is in no process's page tables, and would come back as zeros.
//
// Restore makes each object once (a memfd in cryo, or the tree's own memfd inode when it had an
// fd on it: memfd.ts), fills it from those images, and every mapping of every process maps it.
import { closeSync, fstatSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { PAGE_SIZE, ftruncate, memfdCreate, seekData } from '../../native/index.ts';
import { RuntimeError } from '../../errors.ts';
import type { DumpContext, RestoreContext } from '../context.ts';
import type { Vma } from '../proc/index.ts';

type Entry = Record<string, any>;

/** pagemap_entry flags: the page is in the pages image. */
const PE_PRESENT = 4;
/** Read and write shared memory content in pieces of this size. */
const CHUNK = 4 << 20;

/**
 * Writes pagemap-shmem-<shmid>.img and its pages image from `source` (a path that opens the
 * object), `size` bytes — once per object, whoever (fd or mapping, in any process) comes first.
 * Returns the pages written (0 when already dumped).
 */
export function dumpShmemContent(ctx: DumpContext, shmid: number, source: string, size: number): number {
  if (ctx.shmemDumped.has(shmid)) return 0;
  ctx.shmemDumped.add(shmid);
  const pagesId = ctx.pagesIds.next();
  const pagemap: Entry[] = [{ pages_id: pagesId }];
  const src = openSync(source, 'r');
  try {
    using out = ctx.images.openRaw(`pages-${pagesId}.img`);
    const buf = Buffer.alloc(CHUNK);
    const zero = Buffer.alloc(PAGE_SIZE);
    let run: { start: number; pages: number } | undefined;
    const end = (): void => {
      if (run) pagemap.push({ vaddr: BigInt(run.start), compat_nr_pages: run.pages, nr_pages: BigInt(run.pages), flags: PE_PRESENT });
      run = undefined;
    };
    for (const [rangeStart, rangeEnd] of dataRanges(src, size)) {
      end(); // a hole between ranges ends the run
      for (let off = rangeStart; off < rangeEnd; off += CHUNK) {
        const want = Math.min(CHUNK, rangeEnd - off);
        let n = 0;
        while (n < want) {
          const r = readSync(src, buf, n, want - n, off + n);
          if (r <= 0) break;
          n += r;
        }
        const filled = Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
        buf.fill(0, n, filled);
        // Runs of non-zero pages are written with one write each, not page by page.
        let from = -1; // start in `buf` of the run not written yet
        const flush = (to: number): void => {
          if (from >= 0) out.write(buf.subarray(from, to));
          from = -1;
        };
        for (let p = 0; p < filled; p += PAGE_SIZE) {
          if (buf.subarray(p, p + PAGE_SIZE).equals(zero)) {
            flush(p);
            end();
            continue;
          }
          if (from < 0) from = p;
          if (run) run.pages++;
          else run = { start: off + p, pages: 1 };
        }
        flush(filled);
      }
    }
    end();
    out.close();
  } finally {
    closeSync(src);
  }
  ctx.images.write('SHMEM_PAGEMAP', pagemap, { id: shmid });
  const written = pagemap.slice(1).reduce((s, e) => s + Number(e.compat_nr_pages), 0);
  ctx.stats.pages_written += written;
  return written;
}

/**
 * The page-aligned ranges of the object open as `fd` (`size` bytes) that hold data: from
 * SEEK_DATA/SEEK_HOLE, so the untouched part of a large object (most of a database's shared
 * buffers) is not read while the tree is frozen; all of it where the file system can't say.
 */
function dataRanges(fd: number, size: number): [number, number][] {
  const ranges: [number, number][] = [];
  for (let off = 0; off < size; ) {
    const data = seekData(fd, off);
    if (data === undefined) return [[0, size]];
    if (data < 0 || data >= size) break;
    const hole = seekData(fd, data, true);
    if (hole === undefined) return [[0, size]];
    const from = Math.floor(data / PAGE_SIZE) * PAGE_SIZE;
    const to = Math.min(size, Math.ceil((hole < 0 ? size : hole) / PAGE_SIZE) * PAGE_SIZE);
    ranges.push([from, to]);
    off = to;
  }
  return ranges;
}

/** Dumps the shared memory object mapped at `v` of `pid` (see the top of this file). */
export function dumpMappedShmem(ctx: DumpContext, pid: number, v: Vma): void {
  const source = `/proc/${pid}/map_files/${v.start.toString(16)}-${v.end.toString(16)}`;
  let size: number;
  try {
    size = statSync(source).size;
  } catch (e) {
    throw new RuntimeError(`${pid}: can't open the shared memory mapped at 0x${v.start.toString(16)} (${v.path}): ${(e as Error).message}`, { cause: e });
  }
  const written = dumpShmemContent(ctx, v.inode >>> 0, source, size);
  if (written) ctx.log.debug(`${pid}: shared memory ${v.path} (shmid 0x${(v.inode >>> 0).toString(16)}), ${size} bytes, ${written} pages`);
}

/**
 * Sizes the new object `fd` and fills it from pagemap-shmem-<shmid>.img: `size` bytes exactly (a
 * memfd: its last page is cut at its size), or with `grow` at least `size`, enough for every
 * dumped page (anonymous shared memory, whose size is its mappings'). Images of older cryo
 * versions have no such image: their pages come with each process's own pagemap. Returns the
 * pages filled.
 */
export function fillShmem(ctx: RestoreContext, fd: number, shmid: number, size: number, grow: boolean): number {
  const [head, ...runs] = (ctx.images.readOptional('SHMEM_PAGEMAP', shmid) ?? []) as Entry[];
  const present = runs.filter((r) => Number(r.flags ?? PE_PRESENT) & PE_PRESENT);
  const end = present.reduce((m, r) => Math.max(m, Number(r.vaddr) + Number(r.nr_pages ?? r.compat_nr_pages) * PAGE_SIZE), 0);
  const limit = grow ? Math.max(size, end) : size;
  ftruncate(fd, BigInt(limit));
  if (!head || present.length === 0) return 0;
  const pages = openSync(ctx.images.path(`pages-${head.pages_id}.img`), 'r');
  let filled = 0;
  try {
    const buf = Buffer.alloc(CHUNK);
    let at = 0; // offset in the pages image
    for (const r of present) {
      const start = Number(r.vaddr);
      const len = Number(r.nr_pages ?? r.compat_nr_pages) * PAGE_SIZE;
      for (let done = 0; done < len; done += CHUNK) {
        const piece = Math.min(CHUNK, len - done);
        const n = readSync(pages, buf, 0, piece, at);
        if (n !== piece) throw new RuntimeError(`pages-${head.pages_id}.img: short read at ${at} (shared memory 0x${shmid.toString(16)})`);
        at += piece;
        // A memfd's last page may reach past its size: write only up to it.
        const keep = Math.max(0, Math.min(piece, limit - (start + done)));
        let w = 0;
        while (w < keep) w += writeSync(fd, buf, w, keep - w, start + done + w);
      }
      filled += len / PAGE_SIZE;
    }
  } finally {
    closeSync(pages);
  }
  ctx.stats.pages_restored += filled;
  return filled;
}

/**
 * cryo's memfd standing for the dumped anonymous shared memory object `shmid`, at least `size`
 * bytes long: made and filled on first use, grown when a later mapping reaches further; closed
 * with cryo's other copies when the tasks are let go.
 */
export function sharedMemory(ctx: RestoreContext, shmid: bigint, size: bigint): number {
  let shm = ctx.shmem.get(shmid);
  if (!shm) {
    const fd = memfdCreate('dev/zero');
    shm = { fd, size: 0n };
    ctx.shmem.set(shmid, shm);
    const filled = fillShmem(ctx, fd, Number(shmid), Number(size), true);
    shm.size = BigInt(fstatSync(fd).size);
    if (filled) ctx.log.debug(`shared memory 0x${shmid.toString(16)}: ${filled} pages filled`);
  }
  if (shm.size < size) {
    ftruncate(shm.fd, size);
    shm.size = size;
  }
  return shm.fd;
}
