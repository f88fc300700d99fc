// Kernel constants for x86_64, spelled as the kernel spells them.

export const PTRACE = {
  PEEKDATA: 2,
  POKEDATA: 5,
  CONT: 7,
  KILL: 8,
  GETREGS: 12,
  SETREGS: 13,
  ATTACH: 16,
  DETACH: 17,
  SYSCALL: 24,
  SETOPTIONS: 0x4200,
  GETEVENTMSG: 0x4201,
  GETSIGINFO: 0x4202,
  GETREGSET: 0x4204,
  SETREGSET: 0x4205,
  SEIZE: 0x4206,
  INTERRUPT: 0x4207,
  LISTEN: 0x4208,
  PEEKSIGINFO: 0x4209,
  GETSIGMASK: 0x420a,
  SETSIGMASK: 0x420b,
  GET_RSEQ_CONFIGURATION: 0x420f,
} as const;

export const PTRACE_O = {
  TRACESYSGOOD: 1,
  TRACEFORK: 1 << 1,
  TRACEVFORK: 1 << 2,
  TRACECLONE: 1 << 3,
  TRACEEXEC: 1 << 4,
  EXITKILL: 1 << 20,
} as const;

export const PTRACE_EVENT = { FORK: 1, VFORK: 2, CLONE: 3, EXEC: 4, EXIT: 6, STOP: 128 } as const;

export const NT_PRSTATUS = 1;
export const NT_X86_XSTATE = 0x202;

export const WAIT = { WNOHANG: 1, WUNTRACED: 2, __WALL: 0x40000000, __WNOTHREAD: 0x20000000 } as const;

export const SIG = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8,
  SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15,
  SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGWINCH: 28,
} as const;
export const SIGMAX = 64;

/** x86_64 syscall numbers used by cryo (injected into tasks or called directly). */
export const NR = {
  read: 0, write: 1, open: 2, close: 3, lseek: 8, mmap: 9, mprotect: 10, munmap: 11, brk: 12,
  rt_sigaction: 13, rt_sigprocmask: 14, ioctl: 16, pread64: 17, pwrite64: 18, readv: 19, madvise: 28,
  dup: 32, nanosleep: 35, getitimer: 36, setitimer: 38, getpid: 39, socket: 41, sendmsg: 46, recvmsg: 47,
  clone: 56, fork: 57, exit: 60, wait4: 61, kill: 62, uname: 63, fcntl: 72, flock: 73, chdir: 80, fchdir: 81,
  mremap: 25, umask: 95, getrlimit: 97, getuid: 102, setuid: 105, setgid: 106, setpgid: 109, getppid: 110, setsid: 112,
  setreuid: 113, setregid: 114, getgroups: 115, setgroups: 116, setresuid: 117, setresgid: 119,
  getpgid: 121, setfsuid: 122, setfsgid: 123, getsid: 124, capget: 125, capset: 126, rt_sigpending: 127,
  rt_sigqueueinfo: 129, sigaltstack: 131, personality: 135, prctl: 157, arch_prctl: 158, chroot: 161,
  gettid: 186, tkill: 200, futex: 202, set_tid_address: 218, restart_syscall: 219, clock_nanosleep: 230,
  exit_group: 231, tgkill: 234, openat: 257, set_robust_list: 273, get_robust_list: 274, dup3: 292,
  pipe2: 293, preadv: 295, pwritev: 296, rt_tgsigqueueinfo: 297, prlimit64: 302, memfd_create: 319, rseq: 334,
  sched_setparam: 142, sched_getparam: 143, sched_setscheduler: 144, sched_getscheduler: 145,
  getpriority: 140, setpriority: 141, close_range: 436, kcmp: 312, userfaultfd: 323, eventfd2: 290, signalfd4: 289, timerfd_create: 283, timerfd_settime: 286, pidfd_open: 434, clone3: 435, pidfd_getfd: 438, process_madvise: 440, process_mrelease: 448,
  connect: 42, accept: 43, sendto: 44, recvfrom: 45, shutdown: 48, bind: 49, listen: 50, getsockname: 51,
  getpeername: 52, socketpair: 53, setsockopt: 54, getsockopt: 55, accept4: 288,
  epoll_create1: 291, epoll_ctl: 233, inotify_init1: 294, inotify_add_watch: 254, inotify_rm_watch: 255,
  open_by_handle_at: 304, ftruncate: 77,
  timer_create: 222, timer_settime: 223, timer_gettime: 224, timer_getoverrun: 225, timer_delete: 226,
  shmget: 29, shmat: 30, shmctl: 31, shmdt: 67,
} as const;

export const PROT = { NONE: 0, READ: 1, WRITE: 2, EXEC: 4 } as const;
export const MAP = {
  SHARED: 0x01, PRIVATE: 0x02, FIXED: 0x10, ANONYMOUS: 0x20, GROWSDOWN: 0x100, DENYWRITE: 0x800,
  EXECUTABLE: 0x1000, LOCKED: 0x2000, NORESERVE: 0x4000, POPULATE: 0x8000, HUGETLB: 0x40000,
  FIXED_NOREPLACE: 0x100000,
} as const;
export const MREMAP = { MAYMOVE: 1, FIXED: 2, DONTUNMAP: 4 } as const;

export const O = {
  RDONLY: 0, WRONLY: 1, RDWR: 2, ACCMODE: 3, CREAT: 0o100, EXCL: 0o200, NOCTTY: 0o400, TRUNC: 0o1000,
  APPEND: 0o2000, NONBLOCK: 0o4000, DSYNC: 0o10000, DIRECT: 0o40000, LARGEFILE: 0o100000,
  DIRECTORY: 0o200000, NOFOLLOW: 0o400000, NOATIME: 0o1000000, CLOEXEC: 0o2000000, PATH: 0o10000000,
  /** O_TMPFILE is __O_TMPFILE | O_DIRECTORY; fdinfo shows both for a file made with it. */
  TMPFILE_BIT: 0o20000000,
} as const;
export const AT_FDCWD = -100;

export const F = {
  DUPFD: 0, DUPFD_CLOEXEC: 1030, GETFD: 1, SETFD: 2, GETFL: 3, SETFL: 4, SETLK: 6, OFD_SETLK: 37, SETPIPE_SZ: 1031, GETPIPE_SZ: 1032,
  ADD_SEALS: 1033, GET_SEALS: 1034,
} as const;
export const FD_CLOEXEC = 1;

export const PR = {
  SET_PDEATHSIG: 1, GET_PDEATHSIG: 2, GET_DUMPABLE: 3, SET_DUMPABLE: 4, SET_NAME: 15, GET_NAME: 16,
  GET_SECUREBITS: 27, SET_SECUREBITS: 28, SET_MM: 35, GET_TID_ADDRESS: 40, SET_CHILD_SUBREAPER: 36,
  GET_CHILD_SUBREAPER: 37, SET_NO_NEW_PRIVS: 38, GET_NO_NEW_PRIVS: 39, GET_THP_DISABLE: 42, SET_THP_DISABLE: 41,
  CAPBSET_DROP: 24, CAP_AMBIENT: 47, TIMER_CREATE_RESTORE_IDS: 77,
} as const;
export const PR_SET_MM_MAP = 14;
export const PR_SET_MM_MAP_SIZE = 15;

export const CLONE = {
  VM: 0x100, FS: 0x200, FILES: 0x400, SIGHAND: 0x800, PIDFD: 0x1000, PTRACE: 0x2000, VFORK: 0x4000,
  PARENT: 0x8000, THREAD: 0x10000, NEWNS: 0x20000, SYSVSEM: 0x40000, SETTLS: 0x80000,
  PARENT_SETTID: 0x100000, CHILD_CLEARTID: 0x200000, UNTRACED: 0x800000, CHILD_SETTID: 0x1000000,
} as const;

/** Restart codes the kernel leaves in rax when a syscall was interrupted. */
export const ERESTART = { SYS: -512, NOINTR: -513, NOHAND: -514, RESTARTBLOCK: -516 } as const;
export const EINTR = 4;

export const RLIMIT_NLIMITS = 16;
export const RSEQ_FLAG_UNREGISTER = 1;
export const PAGE_SIZE = 4096;
export const IOV_MAX = 1024;
