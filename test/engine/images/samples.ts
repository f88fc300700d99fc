// Representative entries for every message in schemas/criu, shaped like a small real dump
// (one process, pid 42, two threads), with edge values: u64 max, negative sint64/int32/sint32,
// empty and non-ASCII strings, bytes longer than one base64 line, empty messages.

import type { ImageKindName } from '../../../engine/images/index.ts';

export interface Sample {
  readonly kind: ImageKindName;
  readonly id?: number | string;
  readonly entries: readonly object[];
  readonly payloads?: readonly (Buffer | undefined)[];
}

const U64_MAX = 0xffffffffffffffffn;
const range = (n: number, f: (i: number) => number = (i) => i): number[] => Array.from({ length: n }, (_, i) => f(i));
const range64 = (n: number, f: (i: number) => bigint): bigint[] => Array.from({ length: n }, (_, i) => f(i));
const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };

const gpregs = {
  r15: U64_MAX, r14: 1n, r13: 2n, r12: 3n, bp: 0x7ffc12345670n, bx: 0n, r11: 0x246n, r10: 8n, r9: 0n, r8: 0n,
  ax: U64_MAX - 3n, cx: 0x7f0011223344n, dx: 0n, si: 0n, di: 0n, orig_ax: 35n, ip: 0x7f0011223344n, cs: 0x33n,
  flags: 0x246n, sp: 0x7ffc12345600n, ss: 0x2bn, fs_base: 0x7f0011000740n, gs_base: 0n, ds: 0n, es: 0n, fs: 0n, gs: 0n,
  mode: 1, // NATIVE
};

const xsave = {
  xstate_bv: 0x2e7n,
  ymmh_space: range(64, (i) => (i * 0x01010101) >>> 0),
  bndreg_state: range64(8, (i) => BigInt(i)),
  bndcsr_state: range64(8, () => 0n),
  opmask_reg: range64(8, (i) => (i === 7 ? U64_MAX : BigInt(i) << 40n)),
  zmm_upper: range64(64, (i) => BigInt(i) * 0x0101010101010101n),
  hi16_zmm: range64(128, (i) => U64_MAX - BigInt(i)),
  pkru: [0x55555554, 0],
  cet: { cet: 0n, ssp: 0x7ffc00001000n }, // CRIU ≥ 4.2 only
};

const fpregs = {
  cwd: 0x37f, swd: 0, twd: 0, fop: 0, rip: 0n, rdp: 0n, mxcsr: 0x1f80, mxcsr_mask: 0x2ffff,
  st_space: range(32, (i) => i * 7),
  xmm_space: range(64, (i) => (0xffffffff - i) >>> 0),
  xsave,
};

const tls = [12, 13, 14].map((entry_number) => ({
  entry_number, base_addr: 0, limit: 0, seg_32bit: false, contents_h: false, contents_l: false,
  read_exec_only: true, limit_in_pages: false, seg_not_present: true, usable: false,
}));

const creds = {
  uid: 1000, gid: 1000, euid: 1000, egid: 1000, suid: 1000, sgid: 1000, fsuid: 1000, fsgid: 1000,
  cap_inh: [0, 0], cap_prm: [0xffffffff, 0x1ff], cap_eff: [0, 0], cap_bnd: [0xffffffff, 0x1ff],
  secbits: 0, groups: [4, 24, 1000],
  lsm_profile: 'unconfined', apparmor_data: Buffer.from('profile\x00'),
  no_new_privs: 1, cap_amb: [0, 0], // CRIU ≥ 4.2 only
};

const itimer = (v: bigint) => ({ isec: 0n, iusec: 0n, vsec: v, vusec: 0n });

// 62 sigactions: signals 1..64 without SIGKILL (9) and SIGSTOP (19)
const sigactions = range(64, (i) => i + 1)
  .filter((sig) => sig !== 9 && sig !== 19)
  .map((sig) => ({
    sigaction: sig === 2 ? 0x55550000abcdn : 0n, flags: sig === 2 ? 0x14000000n : 0n,
    restorer: sig === 2 ? 0x7f0011001230n : 0n, mask: sig === 2 ? 1n << 63n : 0n, compat_sigaction: false,
  }));

const siginfo = Buffer.from(range(128, (i) => (i * 13) & 0xff));

export const IDS = { vm_id: 1, files_id: 2, fs_id: 3, sighand_id: 4, pid_ns_id: 5, net_ns_id: 6, ipc_ns_id: 7, uts_ns_id: 8, mnt_ns_id: 9, user_ns_id: 10, cgroup_ns_id: 11, time_ns_id: 12 };

export const LEADER_CORE = {
  mtype: 1, // X86_64
  thread_info: { clear_tid_addr: 0x7f0011000a10n, gpregs, fpregs, tls },
  tc: {
    task_state: 1, exit_code: 0, personality: 0, flags: 0x400100, blk_sigset: 0n,
    comm: 'sl\u00e9ep "\t"',
    timers: {
      real: itimer(5n), virt: itimer(0n), prof: itimer(0n),
      posix: [{ it_id: 0, clock_id: 1, si_signo: 14, it_sigev_notify: 0, sival_ptr: 0n, overrun: 0, isec: 1n, insec: 0n, vsec: 0n, vnsec: 5000n, notify_thread_id: 43 }],
    },
    rlimits: { rlimits: range(16).map((i) => ({ cur: i === 7 ? 1024n : U64_MAX, max: U64_MAX })) },
    signals_s: { signals: [{ siginfo }] },
    loginuid: 0xffffffff,
    oom_score_adj: -1000,
    sigactions,
    child_subreaper: false,
    blk_sigset_extended: 0n,
    stop_signo: 0, membarrier_registration_mask: 0, // CRIU ≥ 4.2 only
  },
  thread_core: {
    futex_rla: 0x7f0011000a20n, futex_rla_len: 24, sched_nice: -5, sched_policy: 0, sched_prio: 0, blk_sigset: 0n,
    sas: { ss_sp: 0n, ss_size: 0n, ss_flags: 2 },
    pdeath_sig: 0,
    signals_p: {},
    creds,
    seccomp_mode: 0, // disabled
    seccomp_filter: 0,
    comm: 'sleep',
    blk_sigset_extended: 0n,
    rseq_entry: { rseq_abi_pointer: 0x7f0011000fe0n, rseq_abi_size: 32, signature: 0x53053053, rseq_cs_pointer: 0n },
    cg_set: 1, // CRIU ≥ 4.2 only
  },
};

const THREAD_CORE = {
  mtype: 1,
  thread_info: { clear_tid_addr: 0n, gpregs: { ...gpregs, ax: 0n }, fpregs: { ...fpregs, xsave: { xstate_bv: 3n } }, tls },
  thread_core: { futex_rla: 0n, futex_rla_len: 24, comm: 'worker', seccomp_mode: 2, seccomp_filter: 0 },
};

export const VMAS = [
  { start: 0x55550000n, end: 0x55554000n, pgoff: 0n, shmid: 1n, prot: 5, flags: 2, status: 0x41, fd: -1n, fdflags: 0 },
  { start: 0x55556000n, end: 0x55577000n, pgoff: 0n, shmid: 0n, prot: 3, flags: 0x22, status: 0x221, fd: -1n },
  { start: 0x7ffc12300000n, end: 0x7ffc12346000n, pgoff: 0n, shmid: 0n, prot: 3, flags: 0x122, status: 0x201, fd: -1n },
  { start: 0x7ffc123f0000n, end: 0x7ffc123f4000n, pgoff: 0n, shmid: 0n, prot: 1, flags: 0x22, status: 0x1201, fd: -1n, madv: 0x10000n },
  { start: 0xffffffffff600000n, end: 0xffffffffff601000n, pgoff: 0n, shmid: 0n, prot: 4, flags: 0x22, status: 0x204, fd: -1n },
];

export const MM = {
  mm_start_code: 0x55550000n, mm_end_code: 0x55554000n, mm_start_data: 0x55555000n, mm_end_data: 0x55556000n,
  mm_start_stack: 0x7ffc12345000n, mm_start_brk: 0x55556000n, mm_brk: 0x55577000n, mm_arg_start: 0x7ffc12345f00n,
  mm_arg_end: 0x7ffc12345f10n, mm_env_start: 0x7ffc12345f10n, mm_env_end: 0x7ffc12345fe0n, exe_file_id: 1,
  mm_saved_auxv: range64(38, (i) => (i === 37 ? U64_MAX : BigInt(i) * 0x1000n)),
  vmas: VMAS,
  dumpable: 1,
  aios: [{ id: 0x7f0011100000n, nr_req: 128, ring_len: 8192 }],
  thp_disabled: false,
};

/** Pages present in pages-1.img: 2 + 1 (one lazy-only run has none). */
export const PAGEMAP = [
  { pages_id: 1 },
  { vaddr: 0x55556000n, compat_nr_pages: 2, flags: 6, nr_pages: 2n },
  { vaddr: 0x55570000n, compat_nr_pages: 3, flags: 2, nr_pages: 3n },
  { vaddr: 0x7ffc12345000n, compat_nr_pages: 1, flags: 4, nr_pages: 1n },
];
export const PAGES = Buffer.concat(range(3).map((i) => Buffer.alloc(4096, 0x41 + i)));

/** A v6 listener with every option, and an established v4 connection (tcp-stream-4d2.img). */
const SK_OPTS = {
  so_sndbuf: 16384, so_rcvbuf: 131072, so_snd_tmo_sec: 0n, so_snd_tmo_usec: 0n, so_rcv_tmo_sec: 5n, so_rcv_tmo_usec: 250000n,
  reuseaddr: true, so_priority: 6, so_rcvlowat: 1, so_mark: 0xc114, so_passcred: false, so_passsec: false, so_dontroute: false,
  so_no_check: false, so_bound_dev: 'lo', so_filter: [0x0000000000000006n, U64_MAX], so_reuseport: true, so_broadcast: false,
  so_keepalive: true, tcp_keepcnt: 9, tcp_keepidle: 7200, tcp_keepintvl: 75, so_oobinline: 0, so_linger: 3, so_buf_lock: 3,
};
const SK_LISTEN = {
  id: 26, ino: 448561, family: 10, type: 1, proto: 6, state: 10, src_port: 8080, dst_port: 0, flags: 0o4002, backlog: 128,
  src_addr: [0, 0, 0, 0x01000000], dst_addr: [0, 0, 0, 0], fown, opts: SK_OPTS, v6only: true,
  ip_opts: { freebind: true, raw: { hdrincl: false, nodefrag: true, checksum: false, icmpv_filter: [1, 2, 3, 4, 5, 6, 7, 8] } },
  ifname: 'lo', ns_id: 0, shutdown: 2,
};
const SK_ESTABLISHED = {
  id: 27, ino: 0x4d2, family: 2, type: 1, proto: 6, state: 1, src_port: 41000, dst_port: 8080, flags: 2, backlog: 0,
  src_addr: [0x0100007f], dst_addr: [0x0100007f], fown, opts: { so_sndbuf: 2626560, so_rcvbuf: 131072, so_snd_tmo_sec: 0n, so_snd_tmo_usec: 0n, so_rcv_tmo_sec: 0n, so_rcv_tmo_usec: 0n },
};
export const TCP_STREAM = {
  inq_len: 5, inq_seq: 0xfffffff0, outq_len: 3, outq_seq: 1000, opt_mask: 7, snd_wscale: 7, mss_clamp: 65495, rcv_wscale: 10,
  timestamp: 123456789, cork: false, nodelay: true, unsq_len: 1, snd_wl1: 999, snd_wnd: 65536, max_window: 65536, rcv_wnd: 65483, rcv_wup: 0xfffffff0,
};

export const FILES = [
  { type: 1, id: 1, reg: { id: 1, flags: 0, pos: 0n, fown, name: '/usr/bin/sleep', size: 35336n, mode: 0o100755, build_id: [0x11223344, 0x55667788, 0x99aabbcc, 0xddeeff00, 0x01020304] } },
  { type: 1, id: 2, reg: { id: 2, flags: 0x8002, pos: 1234567890123n, fown, name: '/dev/null', mnt_id: -1 } },
  { type: 1, id: 3, reg: { id: 3, flags: 0o200000, pos: 0n, fown, name: '/' } },
  { type: 2, id: 4, pipe: { id: 4, pipe_id: 777, flags: 0, fown } },
  { type: 2, id: 5, pipe: { id: 5, pipe_id: 777, flags: 1, fown: { ...fown, uid: 1000, euid: 1000, signum: 29, pid_type: 1, pid: 42 } } },
  { type: 6, id: 6, efd: { id: 6, flags: 0o2004000, fown, counter: U64_MAX - 1n } },
  { type: 9, id: 7, sgfd: { id: 7, flags: 0o2000, fown, sigmask: (1n << 1n) | (1n << 14n) } },
  { type: 17, id: 8, tfd: { id: 8, flags: 0, fown, clockid: 1, ticks: 3n, settime_flags: 1, vsec: 1n, vnsec: 5n, isec: 2n, insec: 0n } },
  { type: 4, id: 26, isk: SK_LISTEN },
  { type: 4, id: 27, isk: SK_ESTABLISHED },
  { type: 11, id: 9, tty: { id: 9, tty_info_id: 7, flags: 0o104002, fown } },
  { type: 11, id: 10, tty: { id: 10, tty_info_id: 6, flags: 0o100002, fown, regf_id: 3 } },
  {
    type: 7, id: 21,
    epfd: {
      id: 21, flags: 0o2, fown,
      tfd: [
        { id: 21, tfd: 6, events: 0x80000019, data: U64_MAX, dev: 0x10, inode: 1030n, pos: 0n },
        { id: 21, tfd: 4, events: 1, data: 0n },
      ],
    },
  },
  {
    type: 8, id: 22,
    ify: {
      id: 22, flags: 0o4000, fown,
      wd: [{
        id: 22, i_ino: 0x3f7e8n, mask: 0xfff, ignored_mask: 0, s_dev: 0xfe00000, wd: 2,
        f_handle: { bytes: 8, type: 1, handle: range64(16, (i) => (i === 0 ? 0x3f7e8n : 0n)), path: '/tmp/watched', mnt_id: 27 },
      }],
    },
  },
  { type: 1, id: 23, reg: { id: 23, flags: 0o4000, pos: 0n, fown, name: '/tmp/the.fifo', mode: 0o10600 } },
  { type: 3, id: 24, fifo: { id: 24, pipe_id: 9, regf_id: 23 } },
  { type: 18, id: 25, memfd: { id: 25, flags: 0o100002, pos: 5000n, fown, inode_id: 1 } },
  {
    type: 5, id: 28,
    usk: {
      id: 28, ino: 393092, type: 1, state: 10, flags: 0o4002, uflags: 0, backlog: 7, peer: 0, fown,
      opts: {
        so_sndbuf: 212992, so_rcvbuf: 200000, so_snd_tmo_sec: 0n, so_snd_tmo_usec: 0n, so_rcv_tmo_sec: 1n, so_rcv_tmo_usec: 500000n,
        reuseaddr: true, so_priority: 3, so_rcvlowat: 1, so_mark: 0, so_passcred: false, so_passsec: false, so_dontroute: false,
        so_no_check: false, so_filter: [0x28n, 0xffffffffffffffffn], so_reuseport: false, so_broadcast: false, so_keepalive: false, so_buf_lock: 0,
      },
      name: Buffer.from('/run/some dir/a=b.sock\0'), file_perms: { mode: 0o140755, uid: 0, gid: 0 }, name_dir: '/run', deleted: false, ns_id: 1, mnt_id: -1,
    },
  },
  {
    type: 5, id: 29,
    usk: {
      id: 29, ino: 393093, type: 2, state: 1, flags: 2, uflags: 0, backlog: 0, peer: 393094, fown,
      opts: { so_sndbuf: 212992, so_rcvbuf: 212992, so_snd_tmo_sec: 0n, so_snd_tmo_usec: 0n, so_rcv_tmo_sec: 0n, so_rcv_tmo_usec: 0n },
      // abstract, with bytes crit quotes, and long enough for soft line breaks
      name: Buffer.concat([Buffer.from([0, 0xff, 0x09]), Buffer.from('x'.repeat(90)), Buffer.from(' ')]), shutdown: 2,
    },
  },
];

const termios = (speed: number) => ({
  c_iflag: 0x500, c_oflag: 5, c_cflag: 0xbf, c_lflag: 0x8a3b, c_line: 0, c_ispeed: speed, c_ospeed: speed, c_cc: range(19).map((i) => i * 3),
});
/** A pty pair (index 3): master (id 7, locked, packet mode) and slave (id 6, a controlling terminal). */
export const TTY_INFOS = [
  {
    id: 7, type: 1, locked: true, exclusive: false, packet_mode: true, sid: 42, pgrp: 43, rdev: 0x502,
    termios: termios(38400), termios_locked: termios(0), winsize: { ws_row: 33, ws_col: 111, ws_xpixel: 640, ws_ypixel: 480 }, pty: { index: 3 }, dev: 24,
  },
  {
    id: 6, type: 1, locked: false, exclusive: true, packet_mode: false, sid: 42, pgrp: 43, rdev: 0x8803,
    termios: termios(38400), termios_locked: termios(0), winsize: { ws_row: 33, ws_col: 111, ws_xpixel: 640, ws_ypixel: 480 }, pty: { index: 3 }, dev: 24, uid: 1000, gid: 5,
  },
];

export const FDINFO = [
  { id: 2, flags: 0, type: 1, fd: 0 },
  { id: 2, flags: 0, type: 1, fd: 1 },
  { id: 4, flags: 1, type: 2, fd: 3, xattr_security_selinux: '' },
  { id: 5, flags: 1, type: 2, fd: 4 },
  { id: 6, flags: 1, type: 6, fd: 5 },
  { id: 7, flags: 1, type: 9, fd: 6 },
  { id: 8, flags: 1, type: 17, fd: 7 },
  { id: 9, flags: 0, type: 11, fd: 8 },
  { id: 10, flags: 0, type: 11, fd: 9 },
  { id: 26, flags: 0, type: 4, fd: 10 },
  { id: 27, flags: 1, type: 4, fd: 11 },
  { id: 28, flags: 1, type: 5, fd: 12 },
  { id: 29, flags: 0, type: 5, fd: 13 },
];

export const GHOST_CONTENT = Buffer.from(range(200, (i) => i));

export const DUMP_STATS = {
  freezing_time: 153, frozen_time: 9266, memdump_time: 491, memwrite_time: 162, pages_scanned: 6035n,
  pages_skipped_parent: 0n, pages_written: 3n, irmap_resolve: 0, pages_lazy: 2n, page_pipes: 1n,
  page_pipe_bufs: 1n, shpages_scanned: 0n, shpages_skipped_parent: 0n, shpages_written: 0n,
};

export const RESTORE_STATS = { pages_compared: 0n, pages_skipped_cow: 0n, forking_time: 1200, restore_time: 45000, pages_restored: 3n };

/** A small dump, the way cryo writes one (pages-1.img is written raw, separately). */
export const DUMP: readonly Sample[] = [
  {
    kind: 'INVENTORY',
    entries: [{
      img_version: 2, fdinfo_per_id: true, root_ids: { ...IDS, vm_id: 100, files_id: 101, fs_id: 102, sighand_id: 103 },
      ns_per_id: true, root_cg_set: 1, lsmtype: 0, network_lock_method: 0,
      plugins_entry: {}, dump_criu_run_id: '0b6d5f0e-8a3c-4c1e-9d3b-1f2e3d4c5b6a', // CRIU ≥ 4.2 only
    }],
  },
  { kind: 'PSTREE', entries: [{ pid: 42, ppid: 0, pgid: 42, sid: 42, threads: [42, 43] }] },
  { kind: 'CORE', id: 42, entries: [LEADER_CORE] },
  { kind: 'CORE', id: 43, entries: [THREAD_CORE] },
  { kind: 'IDS', id: 42, entries: [IDS] },
  { kind: 'MM', id: 42, entries: [MM] },
  { kind: 'PAGEMAP', id: 42, entries: PAGEMAP },
  { kind: 'FILES', entries: FILES },
  { kind: 'FDINFO', id: 2, entries: FDINFO },
  { kind: 'TTY_INFO', entries: TTY_INFOS },
  { kind: 'FS', id: 42, entries: [{ cwd_id: 3, root_id: 3, umask: 0o22 }] },
  { kind: 'TCP_STREAM', id: 0x4d2, entries: [TCP_STREAM], payloads: [Buffer.from('queuedab')] },
  {
    kind: 'PIPES_DATA',
    entries: [{ pipe_id: 777, bytes: 5, size: 65536 }, { pipe_id: 778, bytes: 0 }, { pipe_id: 779, bytes: 100 }],
    payloads: [Buffer.from('hello'), Buffer.alloc(0), Buffer.from(range(100, (i) => 255 - i))],
  },
  {
    kind: 'SK_QUEUES',
    entries: [{ id_for: 29, length: 5 }, { id_for: 29, length: 0 }, { id_for: 28, length: 3, scm: [{ type: 1, rights: [4, 5] }] }],
    payloads: [Buffer.from('hello'), Buffer.alloc(0), Buffer.from([0, 1, 2])],
  },
  {
    kind: 'GHOST_FILE', id: 0x1a,
    entries: [{
      uid: 1000, gid: 1000, mode: 0o100600, dev: 0x803, ino: 1234567n, rdev: 0,
      atim: { tv_sec: 1700000000n, tv_usec: 1n }, mtim: { tv_sec: 1700000001n, tv_usec: 999999n }, size: 200n,
    }],
    payloads: [GHOST_CONTENT],
  },
  { kind: 'REMAP_FPATH', entries: [{ orig_id: 5, remap_id: 0x1a, remap_type: 1 }, { orig_id: 6, remap_id: 7 }] },
  {
    kind: 'GHOST_FILE', id: 0x1b,
    entries: [
      { uid: 0, gid: 0, mode: 0o100644, chunks: true, size: 16384n },
      { len: 4096n, off: 0n },
      { len: 10n, off: 12288n },
    ],
    payloads: [undefined, Buffer.alloc(4096, 7), Buffer.from('0123456789')],
  },
  {
    kind: 'SECCOMP',
    entries: [{ seccomp_filters: [{ filter: Buffer.alloc(24, 0x15), flags: 0 }, { filter: Buffer.alloc(8, 6), prev: 0, flags: 1 }] }],
  },
  {
    kind: 'TIMENS', id: 0,
    entries: [{ monotonic: { tv_sec: 0n, tv_nsec: 0n }, boottime: { tv_sec: 86400n, tv_nsec: 999999999n } }],
  },
  { kind: 'UTSNS', id: 13, entries: [{ nodename: 'cryo-host', domainname: '(none)' }] },
  {
    kind: 'NETLINK_SK',
    entries: [{ id: 9, ino: 5573466, protocol: 0, state: 1, flags: 2, portid: 4242, groups: [17, 1], dst_portid: 0, dst_group: 1, fown, opts: { so_sndbuf: 212992, so_rcvbuf: 212992, so_snd_tmo_sec: 0n, so_snd_tmo_usec: 0n, so_rcv_tmo_sec: 0n, so_rcv_tmo_usec: 0n }, ns_id: 3 }],
  },
  {
    kind: 'CGROUP',
    entries: [
      {
        sets: [{ id: 1, ctls: [{ name: 'cpu,cpuacct', path: '/system.slice/app.service' }, { name: '', path: '/app', cgns_prefix: 1 }] }],
        controllers: [
          {
            cnames: ['memory'],
            dirs: [{ dir_name: 'app', children: [{ dir_name: 'sub' }], properties: [{ name: 'memory.limit_in_bytes', value: '1048576', perms: { mode: 0o644, uid: 0, gid: 0 } }], dir_perms: { mode: 0o755, uid: 0, gid: 0 } }],
          },
        ],
      },
    ],
  },
];

/** Legacy per-object images (same messages, still decodable for old dumps) and both stats files. */
export const MORE: readonly Sample[] = [
  { kind: 'VMAS', id: 42, entries: VMAS },
  { kind: 'REG_FILES', entries: FILES.flatMap((f) => (f.reg === undefined ? [] : [f.reg])) },
  { kind: 'CREDS', id: 42, entries: [creds] },
  { kind: 'SIGACT', id: 42, entries: sigactions },
  { kind: 'RLIMIT', id: 42, entries: LEADER_CORE.tc.rlimits.rlimits },
  { kind: 'ITIMERS', id: 42, entries: [itimer(1n), itimer(2n), itimer(3n)] },
  { kind: 'POSIX_TIMERS', id: 42, entries: LEADER_CORE.tc.timers.posix },
  { kind: 'SIGNAL', id: 42, entries: [{ siginfo }] },
  { kind: 'PIPES', entries: FILES.flatMap((f) => (f.pipe === undefined ? [] : [f.pipe])) },
  { kind: 'EVENTFD_FILE', entries: FILES.flatMap((f) => (f.efd === undefined ? [] : [f.efd])) },
  { kind: 'SIGNALFD', entries: FILES.flatMap((f) => (f.sgfd === undefined ? [] : [f.sgfd])) },
  { kind: 'TIMERFD', entries: FILES.flatMap((f) => (f.tfd === undefined ? [] : [f.tfd])) },
  { kind: 'TTY_FILES', entries: FILES.flatMap((f) => (f.tty === undefined ? [] : [f.tty])) },
  { kind: 'TTY_DATA', entries: [{ tty_id: 7, data: Buffer.from('queued\r\n') }] },
  { kind: 'INETSK', entries: FILES.flatMap((f) => (f.isk === undefined ? [] : [f.isk])) },
  { kind: 'UNIXSK', entries: FILES.flatMap((f) => (f.usk === undefined ? [] : [f.usk])) },
  { kind: 'FIFO_DATA', entries: [{ pipe_id: 9, bytes: 3 }], payloads: [Buffer.from('abc')] },
  { kind: 'EVENTPOLL_FILE', entries: [{ id: 21, flags: 0o2, fown }] },
  { kind: 'EVENTPOLL_TFD', entries: FILES.flatMap((f) => f.epfd?.tfd ?? []) },
  { kind: 'INOTIFY_FILE', entries: [{ id: 22, flags: 0o4000, fown }] },
  { kind: 'INOTIFY_WD', entries: FILES.flatMap((f) => f.ify?.wd ?? []) },
  {
    kind: 'MEMFD_INODE',
    entries: [
      { name: 'cryo-memfd', uid: 0, gid: 0, size: 12388n, shmid: 0x1234, seals: 6, inode_id: 1n },
      { name: '', uid: 1000, gid: 1000, size: 0n, shmid: 0xffffffff, seals: 1, inode_id: 2n, hugetlb_flag: 4 },
    ],
  },
  { kind: 'SHMEM_PAGEMAP', id: 0x1234, entries: [{ pages_id: 3 }, { vaddr: 0n, compat_nr_pages: 1, nr_pages: 1n, flags: 4 }] },
  {
    kind: 'FILE_LOCKS',
    entries: [
      { flag: 1, type: 1, pid: 42, fd: 3, start: 10n, len: 20n },
      { flag: 2, type: 0, pid: 42, fd: 4, start: 0n, len: 0n },
      { flag: 4, type: 0, pid: 42, fd: 5, start: 9223372036854775807n, len: -1n },
    ],
  },
  { kind: 'IRMAP_CACHE', entries: [{ dev: 0x803, inode: 1234567n, path: '/tmp/watched' }] },
  {
    kind: 'IPCNS_SHM',
    id: 9,
    entries: [
      { desc: { key: 0x43521234, uid: 1000, gid: 100, cuid: 0, cgid: 0, mode: 0o640, id: 32770 }, size: 6n, in_pagemaps: false },
      { desc: { key: 0, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o1600, id: 3 }, size: 4n, in_pagemaps: false },
    ],
    payloads: [Buffer.from('sixsix'), Buffer.from('four')],
  },
  { kind: 'STATS', id: 'dump', entries: [{ dump: DUMP_STATS }] },
  { kind: 'STATS', id: 'restore', entries: [{ restore: RESTORE_STATS }] },
];
