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
  unmap(): void;
}

/** Maps the first `len` (> 0) bytes of `fd` read-only, for one sequential pass. */
export function mapFile(fd: number, len: number): MappedFile {
  const ptr = sys.mmapPtr(null, len, PROT_READ, MAP_PRIVATE, fd, 0);
  if (ptr === null || pointerAddress(ptr) === MAP_FAILED) throw new SyscallError('mmap', lastErrno(), `fd ${fd}, ${len} bytes`);
  sys.madvisePtr(ptr, len, MADV_SEQUENTIAL);
  let mapped = true;
  const unmap = (): void => {
    if (!mapped) return;
    mapped = false;
    sys.munmapPtr(ptr, len);
  };
  return { bytes: viewOf(ptr, len), unmap, [Symbol.dispose]: unmap };
}
