// CRIU's pre-dump: a memory-only snapshot while the tree keeps running, the parent of a later
// incremental dump. It needs the kernel to tell which pages change afterwards (soft-dirty, or
// PAGEMAP_SCAN write-protect tracking); cryo has neither path yet, and this kernel has no
// soft-dirty, where CRIU refuses pre-dump too. It refuses before touching the tree.
import { UnsupportedError } from '../errors.ts';
import type { DumpOptions, DumpResult } from './api.ts';
import { checkPid } from './tree.ts';

export type PreDumpOptions = Pick<DumpOptions, 'pid' | 'imagesDir' | 'hooks' | 'signal' | 'log'>;

export async function preDump(opts: PreDumpOptions): Promise<DumpResult> {
  checkPid(opts.pid);
  throw new UnsupportedError('pre-dump is not supported: it needs memory change tracking (soft-dirty or PAGEMAP_SCAN), which cryo does not implement yet', {
    hint: 'use a plain dump (with --leave-running to keep the task); on kernels without soft-dirty CRIU refuses pre-dump as well',
  });
}
