// Every native call's result goes through check(): a failure becomes a SyscallError that names the
// call, its arguments and the errno (`ptrace(PTRACE_SEIZE, 4242): EPERM`), with a hint when one helps.
import { getSystemErrorName } from 'node:util';
import { RuntimeError } from '../errors.ts';
import { lastErrno } from './libc.ts';

const HINTS: Readonly<Record<string, string>> = {
  'ptrace:EPERM': 'cryo needs CAP_SYS_PTRACE (run as root), and the task must not be traced by another process (gdb, strace, another cryo)',
  'ptrace:ESRCH': 'the task exited, or it is not in a ptrace-stop',
  'clone3:EEXIST': 'the pid is still in use (a zombie that is not reaped yet, or another process)',
  'prctl:EPERM': 'PR_SET_MM needs CAP_SYS_RESOURCE, or PR_SET_MM_MAP with a consistent layout',
  'pidfd_getfd:EPERM': 'needs PTRACE_MODE_ATTACH_REALCREDS on the task (run as root)',
};

export class SyscallError extends RuntimeError {
  readonly syscall: string;
  readonly errno: number;
  readonly code: string;
  constructor(syscall: string, errno: number, detail: string) {
    const code = errno > 0 ? safeName(errno) : `errno ${errno}`;
    super(`${syscall}(${detail}): ${code}`, { hint: HINTS[`${syscall}:${code}`] });
    this.syscall = syscall;
    this.errno = errno;
    this.code = code;
  }
}

function safeName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

export function errnoName(errno: number): string {
  return safeName(errno);
}

/** libc convention: -1 and errno. Read errno before any other native call. */
export function check<T extends number | bigint>(rc: T, syscall: string, detail: string): T {
  if (rc === -1 || rc === -1n) throw new SyscallError(syscall, lastErrno(), detail);
  return rc;
}
