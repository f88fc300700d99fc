// `Key:   N kB` files: /proc/meminfo (what the machine has free) and the memory counters of
// /proc/PID/status (a task's resident memory) — for sizing buffers before a dump freezes anything.
import { readProcText } from './io.ts';

/** Every `Key: N kB` line of the text, in bytes (lines without a kB count are left out). */
export function parseKbFields(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_()0-9]+):\s+(\d+) kB$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]) * 1024;
  }
  return out;
}

/** /proc/meminfo in bytes (MemTotal, MemAvailable …). */
export function readMeminfo(): Record<string, number> {
  return parseKbFields(readProcText('/proc/meminfo'));
}

/**
 * The kB counters of /proc/PID/status in bytes (VmRSS, RssAnon, RssShmem …): counters the kernel
 * keeps, read at no cost, where smaps_rollup walks every page table (~7 ms for 512 MiB).
 */
export function readStatusMemory(pid: number): Record<string, number> {
  return parseKbFields(readProcText(`/proc/${pid}/status`));
}
