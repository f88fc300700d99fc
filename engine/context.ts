// What a dump or restore carries from stage to stage, passed explicitly (CRIU keeps it in
// globals: opts, kdat, glob_imgset, root_item).
import type { ImageReader, ImageWriter } from './images/index.ts';
import type { Logger } from './log.ts';
import type { RemoteProcess } from './remote.ts';
import type { FrozenProcess } from './tree.ts';
import type { XsaveLayout } from './x86.ts';
import type { UnixDumpState, UnixRestoreState } from './objects/unix-sockets.ts';

/** CRIU's ids are small counters; cryo hands out file ids and pages ids from here. */
export class IdAllocator {
  #next = 1;
  next(): number {
    return this.#next++;
  }
}

export interface DumpContext {
  readonly images: ImageWriter;
  readonly imagesDir: string;
  readonly log: Logger;
  readonly xsave: XsaveLayout;
  /** Largest deleted-but-open file saved as a ghost file, bytes. */
  readonly ghostLimit: number;
  readonly fileIds: IdAllocator;
  readonly pagesIds: IdAllocator;
  /** file_entry messages for files.img, collected from every process. */
  readonly files: Record<string, unknown>[];
  /** files.img REG ids of mapped files, exe, cwd and root, by path. */
  readonly regIds: Map<string, number>;
  /** remap-fpath.img entries: deleted files saved as ghost files. */
  readonly remaps: Record<string, unknown>[];
  /** pipes-data.img: the queued bytes of each pipe, by pipe inode. */
  readonly pipeData: Map<number, { entry: Record<string, unknown>; payload: Buffer }>;
  /** Unix sockets dumped so far and their queued data (set by the first one). */
  unix?: UnixDumpState;
  readonly stats: { memdump_us: number; memwrite_us: number; pages_scanned: number; pages_written: number };
  readonly onProgress: ((done: number, total: number) => void) | undefined;
}

/** One process being dumped: frozen, with an injection session open. */
export interface DumpTask {
  readonly proc: FrozenProcess;
  readonly remote: RemoteProcess;
}

export interface RestoreContext {
  readonly images: ImageReader;
  readonly imagesDir: string;
  readonly log: Logger;
  readonly xsave: XsaveLayout;
  /** file_entry messages of files.img by id. */
  readonly files: Map<number, Record<string, any>>;
  /** Unix sockets: the images' sockets, and built ends waiting for their fd, by file id (set by the first one). */
  unix?: UnixRestoreState;
  readonly stats: { pages_restored: number };
  readonly onProgress: ((done: number, total: number) => void) | undefined;
}

/** One process being restored: created with its pid, stopped, an injection session open. */
export interface RestoreTask {
  readonly pid: number;
  readonly remote: RemoteProcess;
  /** core entries by tid, leader first. */
  readonly cores: Map<number, Record<string, any>>;
  /** A pidfd of cryo inside the task (see installFd), opened on first use, closed after the fds. */
  cryoPidfd?: number;
  /** While fds are restored: the first fd number above every fd of the image (room for spare fds). */
  spareFdBase?: number;
}
