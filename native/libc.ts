// koffi bindings to libc: the only file of cryo that loads native code. Prototypes only — no
// decisions. Variadic libc calls (syscall, ptrace, fcntl, ioctl) are declared with fixed integer
// parameters, which is call-compatible on x86_64 for integer arguments.
import koffi from 'koffi';

const MAX_KOFFI_ASYNC_CALLS = 4096;

// Every piece of a large image is hashed by its own async call, all submitted while the task
// writes (cryo's thread is busy driving it then, so calls queued on our side would not start
// until it is done): room for 4096 calls in koffi's queue, its maximum (default 256). Each queued
// call holds 256 KiB of koffi's blocks, mostly untouched. Set before any library is loaded.
koffi.config({ ...koffi.config(), max_async_calls: MAX_KOFFI_ASYNC_CALLS });
const libc = koffi.load('libc.so.6');

/** errno of the last native call on this thread (read it before any other native call). */
export function lastErrno(): number {
  return koffi.errno();
}

/** The address of a Buffer's memory, for iovecs and structs that point into our own memory. */
export function addressOf(buf: Uint8Array): bigint {
  return koffi.address(buf) as bigint;
}

type Int = number | bigint;

/** An integer argument, or a Buffer of ours passed by address (kept alive by the caller for the call). */
export type Arg = Int | Uint8Array | null;

/** Raw syscall whose arguments may be integers or our own buffers (passed by address). -1 and errno on failure. */
export function syscallArgs(nr: number, ...args: Arg[]): number {
  const a: Int[] = [0, 0, 0, 0, 0, 0];
  args.forEach((v, i) => {
    a[i] = v === null ? 0 : v instanceof Uint8Array ? (v.byteLength ? addressOf(v) : 0) : v;
  });
  return sys.syscall(nr, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!);
}

export const sys = {
  /** Raw syscall with up to six integer arguments. Returns -1 and errno on failure. */
  syscall: libc.func('long syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)') as (
    nr: Int, a1: Int, a2: Int, a3: Int, a4: Int, a5: Int, a6: Int,
  ) => number,
  /** syscall whose second/third arguments point to our own buffers. */
  syscallBuf: libc.func('long syscall(long nr, long a1, void *a2, void *a3, long a4, long a5, long a6)') as (
    nr: Int, a1: Int, a2: Uint8Array | null, a3: Uint8Array | null, a4: Int, a5: Int, a6: Int,
  ) => number,
  /** syscall whose third argument points to our own buffer. */
  syscallArg3: libc.func('long syscall(long nr, long a1, long a2, void *a3, long a4, long a5, long a6)') as (
    nr: Int, a1: Int, a2: Int, a3: Uint8Array | null, a4: Int, a5: Int, a6: Int,
  ) => number,
  ptrace: libc.func('long ptrace(int req, int pid, uintptr_t addr, uintptr_t data)') as (
    req: number, pid: number, addr: Int, data: Int,
  ) => number,
  ptraceBuf: libc.func('long ptrace(int req, int pid, uintptr_t addr, void *data)') as (
    req: number, pid: number, addr: Int, data: Uint8Array,
  ) => number,
  posixSpawn: libc.func('int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)') as (
    pid: Int32Array, path: string, actions: Uint8Array, attr: Uint8Array, argv: (string | null)[], envp: (string | null)[],
  ) => number,
  spawnActionsInit: libc.func('int posix_spawn_file_actions_init(void *actions)') as (actions: Uint8Array) => number,
  spawnActionsDestroy: libc.func('int posix_spawn_file_actions_destroy(void *actions)') as (actions: Uint8Array) => number,
  spawnActionsOpen: libc.func('int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int oflag, int mode)') as (
    actions: Uint8Array, fd: number, path: string, oflag: number, mode: number,
  ) => number,
  spawnActionsDup2: libc.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)') as (actions: Uint8Array, fd: number, newfd: number) => number,
  spawnAttrInit: libc.func('int posix_spawnattr_init(void *attr)') as (attr: Uint8Array) => number,
  spawnAttrDestroy: libc.func('int posix_spawnattr_destroy(void *attr)') as (attr: Uint8Array) => number,
  spawnAttrSetFlags: libc.func('int posix_spawnattr_setflags(void *attr, short flags)') as (attr: Uint8Array, flags: number) => number,
  spawnAttrSetSigMask: libc.func('int posix_spawnattr_setsigmask(void *attr, void *set)') as (attr: Uint8Array, set: Uint8Array) => number,
  spawnAttrSetSigDefault: libc.func('int posix_spawnattr_setsigdefault(void *attr, void *set)') as (attr: Uint8Array, set: Uint8Array) => number,
  waitpid: libc.func('int waitpid(int pid, void *status, int options)') as (
    pid: number, status: Uint8Array, options: number,
  ) => number,
  processVmReadv: libc.func(
    'long process_vm_readv(int pid, void *lvec, unsigned long liovcnt, void *rvec, unsigned long riovcnt, unsigned long flags)',
  ) as (pid: number, lvec: Uint8Array, liovcnt: number, rvec: Uint8Array, riovcnt: number, flags: number) => number,
  processVmWritev: libc.func(
    'long process_vm_writev(int pid, void *lvec, unsigned long liovcnt, void *rvec, unsigned long riovcnt, unsigned long flags)',
  ) as (pid: number, lvec: Uint8Array, liovcnt: number, rvec: Uint8Array, riovcnt: number, flags: number) => number,
  prlimit: libc.func('int prlimit(int pid, int resource, void *newLimit, void *oldLimit)') as (
    pid: number, resource: number, newLimit: Uint8Array | null, oldLimit: Uint8Array | null,
  ) => number,
  kill: libc.func('int kill(int pid, int sig)') as (pid: number, sig: number) => number,
  fcntl: libc.func('int fcntl(int fd, int cmd, long arg)') as (fd: number, cmd: number, arg: Int) => number,
  ioctlBuf: libc.func('int ioctl(int fd, unsigned long req, void *arg)') as (fd: number, req: number, arg: Uint8Array) => number,
  /** For callInBackground: the argument by address, kept alive by the caller until the call ends. */
  ioctlAt: libc.func('int ioctl(int fd, unsigned long req, uintptr_t arg)') as (fd: number, req: number, arg: bigint) => number,
  pipe2: libc.func('int pipe2(void *fds, int flags)') as (fds: Uint8Array, flags: number) => number,
  tee: libc.func('long tee(int fdIn, int fdOut, size_t len, unsigned int flags)') as (
    fdIn: number, fdOut: number, len: number, flags: number,
  ) => number,
  read: libc.func('long read(int fd, void *buf, size_t count)') as (fd: number, buf: Uint8Array, count: number) => number,
  write: libc.func('long write(int fd, void *buf, size_t count)') as (fd: number, buf: Uint8Array, count: number) => number,
  close: libc.func('int close(int fd)') as (fd: number) => number,
  getpid: libc.func('int getpid()') as () => number,
  /** Replaces cryo with another program (CRIU's --exec-cmd): the restored root stays its child. */
  execvp: libc.func('int execvp(const char *file, const char **argv)') as (file: string, argv: (string | null)[]) => number,
  setsid: libc.func('int setsid()') as () => number,
  /** mmap returning the pointer itself (for koffi.view); MAP_FAILED is address 2^64-1. */
  mmapPtr: libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)') as (
    addr: null, len: number, prot: number, flags: number, fd: number, off: number,
  ) => unknown,
  munmapPtr: libc.func('int munmap(void *addr, size_t len)') as (addr: unknown, len: number) => number,
  madvisePtr: libc.func('int madvise(void *addr, size_t len, int advice)') as (addr: unknown, len: number, advice: number) => number,
};

/**
 * Background calls submitted to koffi at once, at most: koffi refuses more than it has room for
 * ("Too many asynchronous calls are running"). The rest wait here, and start as earlier calls end
 * — which needs cryo's thread back in the event loop, so the limit is kept high (an image of 32 GiB
 * in 8 MiB pieces, all at once).
 */
const MAX_BACKGROUND_CALLS = MAX_KOFFI_ASYNC_CALLS - 64;
let backgroundCalls = 0;
const waitingCalls: (() => void)[] = [];

/**
 * Runs a native call of `sys` on a thread of libuv's pool instead of this one, so this thread can
 * go on meanwhile (e.g. drive a traced task). Resolves with the call's return value; errno is
 * that thread's, not readable here: callers treat a short or failed result as "do the rest".
 * Calls beyond MAX_BACKGROUND_CALLS start, in order, as earlier ones end.
 */
export function callInBackground<A extends unknown[]>(fn: (...args: A) => number, ...args: A): Promise<number> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      backgroundCalls--;
      waitingCalls.shift()?.();
    };
    const start = (): void => {
      backgroundCalls++;
      try {
        (fn as unknown as { async: (...a: unknown[]) => void }).async(...args, (err: unknown, res: number) => {
          done();
          if (err) reject(err);
          else resolve(res);
        });
      } catch (e) {
        done();
        reject(e);
      }
    };
    if (backgroundCalls < MAX_BACKGROUND_CALLS) start();
    else waitingCalls.push(start);
  });
}

/** The address a native pointer holds. */
export function pointerAddress(ptr: unknown): bigint {
  return koffi.address(ptr) as bigint;
}

/** A view of native memory (e.g. a mapping) as an ArrayBuffer, valid until it is unmapped. */
export function viewOf(ptr: unknown, len: number): ArrayBuffer {
  return koffi.view(ptr, len);
}

/**
 * OpenSSL's one-shot EVP_Digest and its SHA-256 method, from the system's libcrypto (loaded on
 * first use; null when it isn't installed): hashing that can run on libuv's thread pool.
 */
let crypto: { digest: (data: Int, count: number, md: Int, size: Int, type: unknown, impl: null) => number; sha256: unknown } | null | undefined;
export function libcrypto(): typeof crypto {
  if (crypto !== undefined) return crypto;
  try {
    const lib = koffi.load('libcrypto.so.3');
    const sha256 = lib.func('void *EVP_sha256(void)')();
    const digest = lib.func('int EVP_Digest(uintptr_t data, size_t count, uintptr_t md, uintptr_t size, void *type, void *impl)');
    crypto = { digest, sha256 };
  } catch {
    crypto = null;
  }
  return crypto;
}
