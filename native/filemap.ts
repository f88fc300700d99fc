// A file mapped read-only into cryo's memory: its bytes hashed in place, without copying them
// out of the page cache (restore checks the pages images this way, on a worker thread).
import { SyscallError } from './check.ts';
import { lastErrno, pointerAddress, sys, viewOf } from './libc.ts';

const PROT_READ = 1;
const MAP_PRIVATE = 2;
const MADV_SEQUENTIAL = 2;
const MAP_FAILED = 0xffffffffffffffffn;

export interface MappedFile extends Disposable {
  /** The file's first `len` bytes; touching them after unmap() or past the file's end faults. */
  readonly bytes: ArrayBuffer;
  /** Where it is mapped in cryo (for native calls on it). */
  readonly address: bigint;
  unmap(): void;
}

/** Maps `len` (> 0) bytes of `fd` from `offset` (a multiple of the page size) read-only, for one sequential pass. */
export function mapFile(fd: number, len: number, offset = 0): MappedFile {
  const ptr = sys.mmapPtr(null, len, PROT_READ, MAP_PRIVATE, fd, offset);
  if (ptr === null || pointerAddress(ptr) === MAP_FAILED) throw new SyscallError('mmap', lastErrno(), `fd ${fd}, ${len} bytes`);
  sys.madvisePtr(ptr, len, MADV_SEQUENTIAL);
  let mapped = true;
  const unmap = (): void => {
    if (!mapped) return;
    mapped = false;
    sys.munmapPtr(ptr, len);
  };
  return mappedFile(ptr, len, unmap);
}

/**
 * The mapping's ArrayBuffer is made on first use: hashing on the pool needs only the address,
 * and an ArrayBuffer over 8 MiB of mapped memory counts as that much external memory to V8,
 * which collects garbage for it (a 512 MiB dump's pieces cost ~90 ms of collections on the
 * thread that drives the task's writes).
 */
function mappedFile(ptr: unknown, len: number, unmap: () => void): MappedFile {
  let view: ArrayBuffer | undefined;
  return {
    get bytes() {
      return (view ??= viewOf(ptr, len));
    },
    address: pointerAddress(ptr),
    unmap,
    [Symbol.dispose]: unmap,
  };
}

const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MADV_POPULATE_WRITE = 23; // Linux 5.14

/**
 * Maps the first `len` (> 0) bytes of `fd` (open for reading and writing) shared and writable,
 * and faults every page in ahead (MADV_POPULATE_WRITE): bytes copied into it later go straight
 * into the page cache, with no write() and no page fault. Throws if the kernel or filesystem
 * refuses either.
 */
export function mapFileForWriting(fd: number, len: number): MappedFile {
  const ptr = sys.mmapPtr(null, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (ptr === null || pointerAddress(ptr) === MAP_FAILED) throw new SyscallError('mmap', lastErrno(), `fd ${fd}, ${len} bytes, shared`);
  let mapped = true;
  const unmap = (): void => {
    if (!mapped) return;
    mapped = false;
    sys.munmapPtr(ptr, len);
  };
  if (sys.madvisePtr(ptr, len, MADV_POPULATE_WRITE) !== 0) {
    const errno = lastErrno();
    unmap();
    throw new SyscallError('madvise', errno, `MADV_POPULATE_WRITE, fd ${fd}, ${len} bytes`);
  }
  return mappedFile(ptr, len, unmap);
}
