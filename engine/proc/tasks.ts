// Small per-task /proc files and links: threads, children, comm, exe/cwd/root, fds, syscall.
import { readdirSync, readlinkSync } from 'node:fs';
import { hex, int, ioError, parseError, readProcText, taskDir } from './io.ts';

function numbers(text: string, file: string): number[] {
  const t = text.trim();
  return t === '' ? [] : t.split(/\s+/).map((s) => int(file, s));
}

function link(path: string): string {
  try {
    return readlinkSync(path);
  } catch (e) {
    throw ioError(path, e);
  }
}

/** Thread ids of a process, ascending (the leader is one of them). */
export function listThreads(pid: number): number[] {
  const path = `/proc/${pid}/task`;
  try {
    return readdirSync(path).map(Number).sort((a, b) => a - b);
  } catch (e) {
    throw ioError(path, e);
  }
}

/** Children a thread has forked (needs CONFIG_PROC_CHILDREN). */
export function readChildren(pid: number, tid: number): number[] {
  return numbers(readProcText(`/proc/${pid}/task/${tid}/children`), 'children');
}

/** Children a process's threads (`tids`, by default all of them) have forked, ascending. */
export function readProcessChildren(pid: number, tids: readonly number[] = listThreads(pid)): number[] {
  return [...new Set(tids.flatMap((t) => readChildren(pid, t)))].sort((a, b) => a - b);
}

export function readComm(pid: number, tid?: number): string {
  return readProcText(`${taskDir(pid, tid)}/comm`).replace(/\n$/, '');
}

export function readExeLink(pid: number): string {
  return link(`/proc/${pid}/exe`);
}

export function readCwd(pid: number): string {
  return link(`/proc/${pid}/cwd`);
}

export function readRoot(pid: number): string {
  return link(`/proc/${pid}/root`);
}

export interface FdLink {
  readonly fd: number;
  readonly link: string;
}

/** readlink of every /proc/PID/fd/N, by fd; an fd closed while we look is left out. */
export function readFdLinks(pid: number): FdLink[] {
  const dir = `/proc/${pid}/fd`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw ioError(dir, e);
  }
  const out: FdLink[] = [];
  for (const name of names) {
    try {
      out.push({ fd: Number(name), link: readlinkSync(`${dir}/${name}`) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`${dir}/${name}`, e);
    }
  }
  return out.sort((a, b) => a.fd - b.fd);
}

export type ProcSyscall =
  | { readonly nr: number; readonly args: readonly bigint[]; readonly sp: bigint; readonly pc: bigint }
  | { readonly running: true }
  /** Blocked, but not in a system call (e.g. a ptrace stop outside one). */
  | { readonly nr: -1; readonly sp: bigint; readonly pc: bigint };

/** `nr arg0..arg5 sp pc` (hex but nr), `-1 sp pc`, or `running`. */
export function parseSyscall(text: string): ProcSyscall {
  const w = text.trim().split(' ');
  if (w[0] === 'running') return { running: true };
  if (w[0] === '-1' && w.length === 3) return { nr: -1, sp: hex('syscall', w[1]), pc: hex('syscall', w[2]) };
  if (w.length !== 9) throw parseError('syscall', `expected 9 words, got ${w.length}`, text);
  return {
    nr: int('syscall', w[0]),
    args: w.slice(1, 7).map((s) => hex('syscall', s)),
    sp: hex('syscall', w[7]),
    pc: hex('syscall', w[8]),
  };
}

export function readSyscall(pid: number, tid?: number): ProcSyscall {
  return parseSyscall(readProcText(`${taskDir(pid, tid)}/syscall`));
}
