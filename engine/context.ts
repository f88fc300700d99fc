// What a dump or restore carries from stage to stage, passed explicitly (CRIU keeps it in
// globals: opts, kdat, glob_imgset, root_item).
import type { ImageReader, ImageWriter, PreparedRawImage } from './images/index.ts';
import type { Logger } from './log.ts';
import type { InetDumpState, InetRestoreState } from './objects/inet-sockets.ts';
import type { RestoredShm, ShmSegment } from './objects/sysv-shm.ts';
import type { RemoteProcess } from './remote.ts';
import type { Description } from './objects/files.ts';
import type { TtyDumpState, TtyRestoreState } from './objects/tty.ts';
import type { FrozenProcess } from './tree.ts';
import type { XsaveLayout } from './x86.ts';
import type { MemfdInode } from './objects/memfd.ts';
import type { MountInfo } from './proc/index.ts';
import type { SnapshotPlan } from './objects/snapshot.ts';
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
  /** Largest deleted file (open or mapped) saved as a ghost file, bytes. */
  readonly ghostLimit: number;
  /** `--ext-unix-sk`: datagram unix sockets may have a peer outside the tree. */
  readonly extUnixSk: boolean;
  readonly fileIds: IdAllocator;
  readonly pagesIds: IdAllocator;
  /** file_entry messages for files.img, collected from every process. */
  readonly files: Record<string, unknown>[];
  /** files.img REG ids of mapped files, exe, cwd and root, by path. */
  readonly regIds: Map<string, number>;
  /** remap-fpath.img entries: deleted files saved as ghost files. */
  readonly remaps: Record<string, unknown>[];
  /** cgroup sets of the dumped processes (and cryo's own), by their content (cgroups.ts). */
  readonly cgroupSets: Map<string, { readonly id: number; readonly ctls: readonly { readonly name: string; readonly path: string }[] }>;
  /** Shared memory objects (shmids: inodes) whose content is dumped already (shmem.ts). */
  readonly shmemDumped: Set<number>;
  /** Ghost images (remap ids) by the deleted file's inode, "dev:ino": one per file, however many fds and mappings. */
  readonly ghosts: Map<string, number>;
  /** pipes-data.img: the queued bytes of each pipe, by pipe inode. */
  readonly pipeData: Map<number, { entry: Record<string, unknown>; payload: Buffer }>;
  /** Open file descriptions seen so far in the tree, by fd link, sorted by kcmp order. */
  readonly descriptions: Map<string, Description[]>;
  /** fifo-data.img: the queued bytes of each FIFO, by inode. */
  readonly fifoData: Map<number, { entry: Record<string, unknown>; payload: Buffer }>;
  /** memfd.img entries by "dev:ino" of the memfd's inode (one per inode, however many fds). */
  readonly memfdInodes: Map<string, Record<string, unknown>>;
  /** --file-locks: locks held by the tasks go into filelocks.img (else a task holding one is refused). */
  readonly fileLocks: boolean;
  /** filelocks.img entries. */
  readonly locks: Record<string, unknown>[];
  /** Unix sockets dumped so far and their queued data (set by the first one). */
  unix?: UnixDumpState;
  readonly stats: { memdump_us: number; memwrite_us: number; pages_scanned: number; pages_written: number };
  /** --leave-running: the pages image prepared before the freeze, for the first process's pages. */
  readonly stage?: PreparedRawImage | undefined;
  /** --leave-running: processes' pages written after the release, from snapshots (objects/snapshot.ts). */
  readonly snapshots?: SnapshotPlan | undefined;
  /**
   * Each dumped process's injection (inject()): its scratch area and guard code stay mapped until
   * the tasks are let go, for the pages and the snapshot to use (releaseScratch() in dump.ts).
   */
  readonly remotes: Map<number, RemoteProcess>;
  /** `--shell-job`: terminals from outside the tree are allowed (recorded, not owned). */
  readonly shellJob?: boolean | undefined;
  /** Terminals seen so far (tty-info.img), created on first use. */
  ttys?: TtyDumpState;
  readonly onProgress: ((done: number, total: number) => void) | undefined;
  /** Established TCP connections put in repair mode and locked (--tcp-established), to undo. */
  readonly inet?: InetDumpState;
  /** SysV shared memory segments attached by the tasks, by shmid: each is dumped once. */
  sysvShm?: Map<number, ShmSegment>;
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
  /** ids of descriptions used by more than one fd table (processes of the tree). */
  readonly sharedFiles: Set<number>;
  /** fdinfo-ID.img entries by fd table id (files_id), read once while loading. */
  readonly fdTables: Map<number, Record<string, any>[]>;
  /** Each live process's fd table id (processes sharing one, CLONE_FILES, have the same). */
  readonly fdTableOf: Map<number, number>;
  /**
   * cryo's own copies of descriptions, by file id: shared descriptions (installed into each
   * process that uses them) and objects built in cryo. Closed when the tasks are let go, so
   * cryo holds no pipe end or socket of theirs.
   */
  readonly ownFds: Map<number, number>;
  /** Shared anonymous memory built in cryo (memfds), by dumped shmem inode. */
  readonly shmem: Map<bigint, { fd: number; size: bigint }>;
  /** Pipes built in cryo: [read, write] by pipe inode. */
  readonly pipes: Map<number, [number, number]>;
  /** filelocks.img once read. */
  fileLocks?: Record<string, any>[];
  /** remap-fpath.img once read: file id → ghost image (remap) id. */
  ghostOf?: Map<number, number>;
  /** Ghosts recreated so far, by remap id: removed once every process has opened, mapped or entered them. */
  ghosts?: Map<number, { readonly path: string; readonly dir: boolean; readonly parents: readonly string[] }>;
  /** pipes-data.img once read. */
  pipeData?: Map<number, { entry: Record<string, any>; payload?: Buffer }>;
  /** memfd inodes by memfd.img inode_id, created on first use by an fd or a mapping of any task. */
  memfds?: Map<number, MemfdInode>;
  /** fifo-data.img by pipe_id, and the FIFOs already refilled (once per FIFO, whoever opens it first). */
  fifos?: { readonly data: Map<number, { entry: Record<string, any>; payload?: Buffer }>; readonly filled: Set<number> };
  /** Unix sockets: the images' sockets, and built ends waiting for their fd, by file id (set by the first one). */
  unix?: UnixRestoreState;
  readonly stats: { pages_restored: number };
  /** `--shell-job`: terminals from outside the tree get cryo's own. */
  readonly shellJob?: boolean | undefined;
  /** Terminals built for this restore, keyed by their dumped pty index; created on first use. */
  ttys?: TtyRestoreState;
  readonly onProgress: ((done: number, total: number) => void) | undefined;
  /** `--tcp-established`: established TCP connections in the images may be restored. */
  readonly tcpEstablished?: boolean;
  /** `--tcp-close`: established TCP connections in the images come back closed. */
  readonly tcpClose?: boolean;
  /** `--manage-cgroups`: 'soft' (default) puts each process back into its dumped cgroups; 'ignore' doesn't. */
  readonly cgroupMode?: 'soft' | 'ignore';
  /** cgroup.img's sets by id, and cryo's mounts (where the hierarchies are), once read. */
  cgroupSets?: { readonly sets: Map<number, { name: string; path: string }[]>; readonly mounts: MountInfo[] };
  /** TCP connections rebuilt in repair mode, left once the network is unlocked (set on first use). */
  inet?: InetRestoreState;
  /** SysV shared memory: the segments of the image, and those made ready (shared by the tasks), by shmid. */
  sysvShmImages?: Map<number, ShmSegment>;
  sysvShm?: Map<number, RestoredShm>;
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
