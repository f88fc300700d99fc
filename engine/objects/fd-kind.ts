// The shape every kind of file descriptor module has: how to recognise it, how to dump its open
// file description into a files.img entry, and how to re-create it inside a task being restored.
import type { DumpContext, RestoreContext, RestoreTask } from '../context.ts';
import type { Fdinfo } from '../proc/index.ts';

export type Entry = Record<string, any>;

/** What cryo knows about one fd of a task while dumping it. */
export interface FdFacts {
  readonly pid: number;
  readonly fd: number;
  /** readlink of /proc/PID/fd/N: a path, `pipe:[ino]`, `anon_inode:[eventfd]` … */
  readonly link: string;
  readonly info: Fdinfo;
}

export interface FdKind {
  readonly name: string;
  /** fd_types value of the files.img entries this kind writes. */
  readonly type: number;
  matches(f: FdFacts): boolean;
  /** The file_entry for this fd's open file description. */
  dump(ctx: DumpContext, f: FdFacts): Entry;
  /** Creates the open file description in the task; returns the task's new fd (placed by the caller). */
  restore?(ctx: RestoreContext, task: RestoreTask, file: Entry): number;
}

export const FOWN = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };

/** Flags that survive in an anonymous-inode file's status flags (O_NONBLOCK is the one that matters). */
export const O_NONBLOCK = 0o4000;
