// Figures about a dump directory for the summary.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DumpStats, RestoreStats } from './api.ts';

export function imageDirSize(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    try {
      const st = statSync(join(dir, name));
      if (st.isFile()) total += st.size;
    } catch {
      /* raced with a cleanup */
    }
  }
  return total;
}

/** dump_stats_entry as CRIU writes it: times are uint32 µs, page counts uint64. */
export function criuDumpStats(s: DumpStats): Record<string, number | bigint> {
  return {
    freezing_time: s.freezing_time,
    frozen_time: s.frozen_time,
    memdump_time: s.memdump_time,
    memwrite_time: s.memwrite_time,
    pages_scanned: BigInt(s.pages_scanned),
    pages_skipped_parent: BigInt(s.pages_skipped_parent),
    pages_written: BigInt(s.pages_written),
    pages_lazy: 0n,
  };
}

export function criuRestoreStats(s: RestoreStats): Record<string, number | bigint> {
  return { pages_compared: 0n, pages_skipped_cow: 0n, forking_time: s.forking_time, restore_time: s.restore_time, pages_restored: BigInt(s.pages_restored) };
}
