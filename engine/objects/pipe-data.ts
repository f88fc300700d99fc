// The bytes queued in a pipe or FIFO (pipes-data.img, fifo-data.img): peeked at dump without
// consuming them, written back at restore through cryo's copy of the task's end.
import { closeSync, openSync, constants as FS } from 'node:fs';
import { F, O, closeFd, fcntl, pipe, readFd, tee, writeFd } from '../../native/index.ts';
import { withOwnCopy } from './fd-kind.ts';
import type { DumpContext, RestoreContext, RestoreTask } from '../context.ts';
import { imageFileName } from '../images/index.ts';

/** A pipe_data_entry and the bytes that follow it. */
export interface PipeData {
  readonly entry: Record<string, any>;
  readonly payload?: Buffer;
}

/** Reads every queued byte of the task's pipe or FIFO `fd` without consuming them (tee into our own pipe). */
export function peekPipe(pid: number, fd: number): { data: Buffer; size: number } {
  const rfd = openSync(`/proc/${pid}/fd/${fd}`, FS.O_RDONLY | FS.O_NONBLOCK);
  try {
    const size = fcntl(rfd, F.GETPIPE_SZ);
    const [pr, pw] = pipe(O.NONBLOCK);
    try {
      fcntl(pw, F.SETPIPE_SZ, size);
      const n = Math.max(0, teeAll(rfd, pw, size));
      const data = Buffer.alloc(n);
      let off = 0;
      while (off < n) off += readFd(pr, data.subarray(off));
      return { data, size };
    } finally {
      closeFd(pr);
      closeFd(pw);
    }
  } finally {
    closeSync(rfd);
  }
}

function teeAll(from: number, to: number, size: number): number {
  try {
    return tee(from, to, size, 2 /* SPLICE_F_NONBLOCK */);
  } catch (e) {
    if ((e as { code?: string }).code === 'EAGAIN') return 0;
    throw e;
  }
}

/** Sets the pipe size and writes the dumped bytes into the task's pipe or FIFO through its fd `taskFd` (a writable end). */
export function fillPipe(task: RestoreTask, taskFd: number, data: PipeData): void {
  withOwnCopy(task.pid, taskFd, (mine) => writePipeBytes(mine, data));
}

/** Sets the pipe size and writes the dumped bytes through cryo's own writable end `fd`. */
export function writePipeBytes(fd: number, data: PipeData): void {
  if (data.entry.size) fcntl(fd, F.SETPIPE_SZ, Number(data.entry.size));
  const payload = data.payload ?? Buffer.alloc(0);
  let off = 0;
  while (off < payload.length) off += writeFd(fd, payload.subarray(off));
}

/** pipes-data.img or fifo-data.img from the data collected by inode, if any. */
export function writePipeDataImage(ctx: DumpContext, kind: 'PIPES_DATA' | 'FIFO_DATA', byInode: ReadonlyMap<number, { entry: object; payload: Buffer }>): void {
  const data = [...byInode.values()];
  if (data.length) ctx.images.write(kind, data.map((d) => d.entry), { payloads: data.map((d) => d.payload) });
}

/** pipes-data.img or fifo-data.img by pipe_id (empty when the dump had none). */
export function readPipeDataImage(ctx: RestoreContext, kind: 'PIPES_DATA' | 'FIFO_DATA'): Map<number, PipeData> {
  const byId = new Map<number, PipeData>();
  if (!ctx.images.list().includes(imageFileName(kind))) return byId;
  for (const d of ctx.images.readWithPayloads(kind) as PipeData[]) byId.set(Number(d.entry.pipe_id), d);
  return byId;
}
