// The single source for image names, files, magics and payload rules (CRIU's magic.h +
// image-desc.c + protobuf-desc.c in one table). Nothing else in cryo switches on image kinds.

import { InternalError } from '../../errors.ts';

/** How many raw bytes follow an entry. */
export type PayloadRule =
  /** Every entry is followed by sum(fields) × unit bytes, padded with zeros to `align`. */
  | { readonly kind: 'sized'; readonly fields: readonly string[]; readonly unit?: number; readonly align?: number }
  /**
   * ghost-file: if the first entry's `chunked` field is false, the rest of the file is the content
   * (payload of entry 0); else every further entry is followed by its `length` field's bytes.
   */
  | { readonly kind: 'ghost'; readonly chunked: string; readonly length: string };

export interface ImageKind {
  /** File name; `{id}` is replaced by the id in decimal, `{id:x}` in hex (or the string as given). */
  readonly file: string;
  /** Image magic; 0 for raw images, which have no header at all. */
  readonly magic: number;
  /** Head magic written before the image magic. */
  readonly head: 'common' | 'service' | 'none';
  /** protobuf message of the entries (CRIU's name); null for raw images. */
  readonly message: string | null;
  /** Message of entry 0 when it differs from the rest. */
  readonly first?: string;
  readonly payload?: PayloadRule;
}

const PIPE_DATA: PayloadRule = { kind: 'sized', fields: ['bytes'] };

// Order matters where two rows share a magic: the first row is what a magic decodes to
// (crit shows pagemap-shmem as PAGEMAP, signal-p as SIGNAL).
export const IMAGE_KINDS = {
  INVENTORY: { file: 'inventory.img', magic: 0x58313116, head: 'none', message: 'inventory_entry' },
  PSTREE: { file: 'pstree.img', magic: 0x50273030, head: 'common', message: 'pstree_entry' },
  CORE: { file: 'core-{id}.img', magic: 0x55053847, head: 'common', message: 'core_entry' },
  IDS: { file: 'ids-{id}.img', magic: 0x54432030, head: 'common', message: 'task_kobj_ids_entry' },
  MM: { file: 'mm-{id}.img', magic: 0x57492820, head: 'common', message: 'mm_entry' },
  VMAS: { file: 'vmas-{id}.img', magic: 0x54123737, head: 'common', message: 'vma_entry' },
  PAGEMAP: { file: 'pagemap-{id}.img', magic: 0x56084025, head: 'common', message: 'pagemap_entry', first: 'pagemap_head' },
  SHMEM_PAGEMAP: { file: 'pagemap-shmem-{id}.img', magic: 0x56084025, head: 'common', message: 'pagemap_entry', first: 'pagemap_head' },
  PAGES: { file: 'pages-{id}.img', magic: 0, head: 'none', message: null },
  FDINFO: { file: 'fdinfo-{id}.img', magic: 0x56213732, head: 'common', message: 'fdinfo_entry' },
  FILES: { file: 'files.img', magic: 0x56303138, head: 'common', message: 'file_entry' },
  REG_FILES: { file: 'reg-files.img', magic: 0x50363636, head: 'common', message: 'reg_file_entry' },
  FS: { file: 'fs-{id}.img', magic: 0x51403912, head: 'common', message: 'fs_entry' },
  CREDS: { file: 'creds-{id}.img', magic: 0x54023547, head: 'common', message: 'creds_entry' },
  SIGACT: { file: 'sigacts-{id}.img', magic: 0x55344201, head: 'common', message: 'sa_entry' },
  RLIMIT: { file: 'rlimit-{id}.img', magic: 0x57113925, head: 'common', message: 'rlimit_entry' },
  ITIMERS: { file: 'itimers-{id}.img', magic: 0x57464056, head: 'common', message: 'itimer_entry' },
  POSIX_TIMERS: { file: 'posix-timers-{id}.img', magic: 0x52603957, head: 'common', message: 'posix_timer_entry' },
  SIGNAL: { file: 'signal-s-{id}.img', magic: 0x59255647, head: 'common', message: 'siginfo_entry' },
  PSIGNAL: { file: 'signal-p-{id}.img', magic: 0x59255647, head: 'common', message: 'siginfo_entry' },
  PIPES: { file: 'pipes.img', magic: 0x56513555, head: 'common', message: 'pipe_entry' },
  PIPES_DATA: { file: 'pipes-data.img', magic: 0x56453709, head: 'common', message: 'pipe_data_entry', payload: PIPE_DATA },
  FIFO: { file: 'fifo.img', magic: 0x58364939, head: 'common', message: 'fifo_entry' },
  FIFO_DATA: { file: 'fifo-data.img', magic: 0x59333054, head: 'common', message: 'pipe_data_entry', payload: PIPE_DATA },
  UNIXSK: { file: 'unixsk.img', magic: 0x54373943, head: 'common', message: 'unix_sk_entry' },
  INETSK: { file: 'inetsk.img', magic: 0x56443851, head: 'common', message: 'inet_sk_entry' },
  PACKETSK: { file: 'packetsk.img', magic: 0x60454618, head: 'common', message: 'packet_sock_entry' },
  NETLINK_SK: { file: 'netlinksk.img', magic: 0x58005614, head: 'common', message: 'netlink_sk_entry' },
  SK_QUEUES: {
    file: 'sk-queues.img', magic: 0x56264026, head: 'common', message: 'sk_packet_entry',
    payload: { kind: 'sized', fields: ['length'] },
  },
  TCP_STREAM: {
    file: 'tcp-stream-{id:x}.img', magic: 0x51465506, head: 'common', message: 'tcp_stream_entry',
    payload: { kind: 'sized', fields: ['inq_len', 'outq_len'] },
  },
  EVENTFD_FILE: { file: 'eventfd.img', magic: 0x44523722, head: 'common', message: 'eventfd_file_entry' },
  EVENTPOLL_FILE: { file: 'eventpoll.img', magic: 0x45023858, head: 'common', message: 'eventpoll_file_entry' },
  EVENTPOLL_TFD: { file: 'eventpoll-tfd.img', magic: 0x44433746, head: 'common', message: 'eventpoll_tfd_entry' },
  SIGNALFD: { file: 'signalfd.img', magic: 0x57323820, head: 'common', message: 'signalfd_entry' },
  TIMERFD: { file: 'timerfd.img', magic: 0x50493712, head: 'common', message: 'timerfd_entry' },
  INOTIFY_FILE: { file: 'inotify.img', magic: 0x48424431, head: 'common', message: 'inotify_file_entry' },
  INOTIFY_WD: { file: 'inotify-wd.img', magic: 0x54562009, head: 'common', message: 'inotify_wd_entry' },
  FANOTIFY_FILE: { file: 'fanotify.img', magic: 0x55096122, head: 'common', message: 'fanotify_file_entry' },
  FANOTIFY_MARK: { file: 'fanotify-mark.img', magic: 0x56506035, head: 'common', message: 'fanotify_mark_entry' },
  EXT_FILES: { file: 'ext-files.img', magic: 0x59255641, head: 'common', message: 'ext_file_entry' },
  NS_FILES: { file: 'ns-files.img', magic: 0x61394011, head: 'common', message: 'ns_file_entry' },
  TUNFILE: { file: 'tunfile.img', magic: 0x57143751, head: 'common', message: 'tunfile_entry' },
  MEMFD_INODE: { file: 'memfd.img', magic: 0x48453499, head: 'common', message: 'memfd_inode_entry' },
  PIDFD: { file: 'pidfd.img', magic: 0x54435556, head: 'common', message: 'pidfd_entry' },
  REMAP_FPATH: { file: 'remap-fpath.img', magic: 0x59133954, head: 'common', message: 'remap_file_path_entry' },
  GHOST_FILE: {
    file: 'ghost-file-{id:x}.img', magic: 0x52583605, head: 'common', message: 'ghost_chunk_entry', first: 'ghost_file_entry',
    payload: { kind: 'ghost', chunked: 'chunks', length: 'len' },
  },
  TTY_FILES: { file: 'tty.img', magic: 0x59433025, head: 'common', message: 'tty_file_entry' },
  TTY_INFO: { file: 'tty-info.img', magic: 0x59453036, head: 'common', message: 'tty_info_entry' },
  TTY_DATA: { file: 'tty-data.img', magic: 0x59413026, head: 'common', message: 'tty_data_entry' },
  FILE_LOCKS: { file: 'filelocks.img', magic: 0x54323616, head: 'common', message: 'file_lock_entry' },
  MNTS: { file: 'mountpoints-{id}.img', magic: 0x55563928, head: 'common', message: 'mnt_entry' },
  UTSNS: { file: 'utsns-{id}.img', magic: 0x54473203, head: 'common', message: 'utsns_entry' },
  IPC_VAR: { file: 'ipcns-var-{id}.img', magic: 0x53115007, head: 'common', message: 'ipc_var_entry' },
  IPCNS_SHM: {
    file: 'ipcns-shm-{id}.img', magic: 0x46283044, head: 'common', message: 'ipc_shm_entry',
    payload: { kind: 'sized', fields: ['size'], align: 4 },
  },
  // The payload is qnum × (u32 size + ipc_msg + msize bytes padded to 8); not expressible as a
  // rule yet, and cryo has no ipc_msg_entry schema, so decoding it fails cleanly before that.
  IPCNS_MSG: { file: 'ipcns-msg-{id}.img', magic: 0x55453737, head: 'common', message: 'ipc_msg_entry' },
  IPCNS_SEM: {
    file: 'ipcns-sem-{id}.img', magic: 0x59573019, head: 'common', message: 'ipc_sem_entry',
    payload: { kind: 'sized', fields: ['nsems'], unit: 2, align: 8 },
  },
  NETDEV: { file: 'netdev-{id}.img', magic: 0x57373951, head: 'common', message: 'net_device_entry' },
  NETNS: { file: 'netns-{id}.img', magic: 0x55933752, head: 'common', message: 'netns_entry' },
  USERNS: { file: 'userns-{id}.img', magic: 0x55474906, head: 'common', message: 'userns_entry' },
  TIMENS: { file: 'timens-{id}.img', magic: 0x43114433, head: 'common', message: 'timens_entry' },
  PIDNS: { file: 'pidns-{id}.img', magic: 0x61157326, head: 'common', message: 'pidns_entry' },
  CGROUP: { file: 'cgroup.img', magic: 0x59383330, head: 'common', message: 'cgroup_entry' },
  SECCOMP: { file: 'seccomp.img', magic: 0x64413049, head: 'common', message: 'seccomp_entry' },
  CPUINFO: { file: 'cpuinfo.img', magic: 0x61404013, head: 'common', message: 'cpuinfo_entry' },
  AUTOFS: { file: 'autofs-{id}.img', magic: 0x49353943, head: 'common', message: 'autofs_entry' },
  BINFMT_MISC: { file: 'binfmt-misc.img', magic: 0x67343323, head: 'common', message: 'binfmt_misc_entry' },
  BPFMAP_FILE: { file: 'bpfmap-file.img', magic: 0x57506142, head: 'common', message: 'bpfmap_file_entry' },
  BPFMAP_DATA: {
    file: 'bpfmap-data.img', magic: 0x64324033, head: 'common', message: 'bpfmap_data_entry',
    payload: { kind: 'sized', fields: ['keys_bytes', 'values_bytes'] },
  },
  APPARMOR: { file: 'apparmor.img', magic: 0x59423047, head: 'common', message: 'apparmor_entry' },
  // {id} is 'dump' or 'restore'
  STATS: { file: 'stats-{id}', magic: 0x57093306, head: 'service', message: 'stats_entry' },
  IRMAP_CACHE: { file: 'irmap-cache', magic: 0x57004059, head: 'service', message: 'irmap_cache_entry' },
} as const satisfies Record<string, ImageKind>;

export type ImageKindName = keyof typeof IMAGE_KINDS;

const KIND_NAMES = Object.keys(IMAGE_KINDS) as ImageKindName[];

export function imageKind(name: ImageKindName): ImageKind {
  return IMAGE_KINDS[name];
}

/** The kind a magic decodes to (the first row with it), or undefined. */
export function kindByMagic(magic: number): ImageKindName | undefined {
  if (magic === 0) return undefined; // raw images carry no magic
  return KIND_NAMES.find((name) => IMAGE_KINDS[name].magic === magic);
}

/** File name of an image: `core-42.img`, `ghost-file-1a.img`, `stats-dump`. */
export function imageFileName(name: ImageKindName, id?: number | string): string {
  const pattern: string = IMAGE_KINDS[name].file;
  const m = /\{id(:x)?\}/.exec(pattern);
  if (m === null) {
    if (id !== undefined) throw new InternalError(`${name}: ${pattern} takes no id (got ${String(id)})`);
    return pattern;
  }
  if (id === undefined || id === '') throw new InternalError(`${name}: ${pattern} needs an id`);
  if (typeof id === 'number' && !(Number.isSafeInteger(id) && id >= 0)) {
    throw new InternalError(`${name}: bad id ${id}`);
  }
  const text = typeof id === 'number' && m[1] === ':x' ? id.toString(16) : String(id);
  if (text.includes('/')) throw new InternalError(`${name}: bad id ${text}`);
  return pattern.replace(m[0], text);
}
