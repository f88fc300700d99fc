// FIFOs (named pipes): files.img FIFO entries point at a REG entry with the FIFO's path and open
// flags (regf_id, CRIU's trick to reuse the regular-file code); the queued bytes go to
// fifo-data.img once per FIFO inode (pipe_id), peeked with tee like pipes.
// Restore opens the path in the task O_RDWR|O_NONBLOCK first (never blocks, and keeps the FIFO
// alive while it is refilled), refills the data if no fd of this restore did yet, then opens it
// again with the dumped flags (which no longer blocks: the first fd is a reader and a writer)
// and closes the first.
import { NR, O } from '../../native/index.ts';
import { RuntimeError, UnsupportedError } from '../../errors.ts';
import type { DumpContext, RestoreContext } from '../context.ts';
import { FOWN, openInTask, type FdFacts, type FdKind } from './fd-kind.ts';
import { fillPipe, peekPipe, readPipeDataImage, writePipeDataImage } from './pipe-data.ts';

type Entry = Record<string, any>;

const REG = 1;

function isFifo(f: FdFacts): boolean {
  try {
    return f.stat().isFIFO();
  } catch {
    return false;
  }
}

export const fifoKind: FdKind = {
  name: 'fifo',
  type: 3,
  matches: (f) => f.link.startsWith('/') && isFifo(f),
  dump(ctx, f) {
    if (f.link.endsWith(' (deleted)')) {
      throw new UnsupportedError(`${f.pid}: fd ${f.fd} is the deleted FIFO ${f.link}`, { hint: 'a FIFO without a path cannot be opened again' });
    }
    const st = f.stat();
    const pipeId = st.ino;
    // The path and flags, as a REG entry of its own.
    const regfId = ctx.fileIds.next();
    ctx.files.push({ type: REG, id: regfId, reg: { id: regfId, flags: f.info.flags & ~O.CLOEXEC, pos: 0n, fown: FOWN, name: f.link, mode: st.mode } });
    if (!ctx.fifoData.has(pipeId)) {
      const { data, size } = peekPipe(f.pid, f.fd);
      ctx.fifoData.set(pipeId, { entry: { pipe_id: pipeId, bytes: data.length, size }, payload: data });
    }
    const id = ctx.fileIds.next();
    return { type: this.type, id, fifo: { id, pipe_id: pipeId, regf_id: regfId } };
  },
  restore(ctx, task, file) {
    const fifo = file.fifo as Entry;
    const reg = ctx.files.get(Number(fifo.regf_id))?.reg as Entry | undefined;
    if (!reg) throw new RuntimeError(`files.img: FIFO ${fifo.id} names path entry ${fifo.regf_id}, missing from files.img`);
    const path = String(reg.name);
    const t = task.remote.leader;
    const keeper = openInTask(task, path, O.RDWR | O.NONBLOCK);
    try {
      const state = fifoState(ctx);
      const pipeId = Number(fifo.pipe_id);
      if (!state.filled.has(pipeId)) {
        const data = state.data.get(pipeId);
        if (data) fillPipe(task, keeper, data);
        state.filled.add(pipeId);
        ctx.log.debug(`${task.pid}: FIFO ${path} refilled with ${data?.entry.bytes ?? 0} bytes`);
      }
      return openInTask(task, path, Number(reg.flags) & ~(O.CREAT | O.TRUNC | O.EXCL));
    } finally {
      t.call('close', NR.close, keeper);
    }
  },
};

function fifoState(ctx: RestoreContext): NonNullable<RestoreContext['fifos']> {
  ctx.fifos ??= { data: readPipeDataImage(ctx, 'FIFO_DATA'), filled: new Set() };
  return ctx.fifos;
}

/** fifo-data.img, once every task is dumped. */
export function writeFifoData(ctx: DumpContext): void {
  writePipeDataImage(ctx, 'FIFO_DATA', ctx.fifoData);
}
