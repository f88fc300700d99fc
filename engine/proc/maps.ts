// /proc/PID/maps: one VMA a line.
import { parseError, readProcText, taskDir } from './io.ts';

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;

export interface Vma {
  readonly start: bigint;
  readonly end: bigint;
  /** PROT_READ | PROT_WRITE | PROT_EXEC bits. */
  readonly prot: number;
  /** `s` (MAP_SHARED) rather than `p`. */
  readonly shared: boolean;
  readonly offset: bigint;
  /** As printed, `major:minor` in hex, e.g. `fe:00`. */
  readonly dev: string;
  readonly devMajor: number;
  readonly devMinor: number;
  readonly inode: number;
  /** '' for anonymous memory; `[heap]`, `[vdso]` … as printed; without the ` (deleted)` suffix. */
  readonly path: string;
  /** The path ended in ` (deleted)`: the file is unlinked (also shared anon and memfd). */
  readonly deleted: boolean;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) ([r-])([w-])([x-])([ps]) ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+) ?/;
const DELETED = ' (deleted)';

/** Whether a line is a VMA header (smaps interleaves them with `Key: value` lines). */
export function isVmaLine(line: string): boolean {
  return HEADER.test(line);
}

export function parseVmaLine(line: string, file = 'maps'): Vma {
  const m = HEADER.exec(line);
  if (m === null) throw parseError(file, 'bad VMA line', line);
  // the kernel pads to a column before the path; the path itself may contain spaces
  let path = line.slice(m[0].length).replace(/^ +/, '');
  const deleted = path.endsWith(DELETED) && !path.startsWith('[');
  if (deleted) path = path.slice(0, -DELETED.length);
  return {
    // HEADER matched only hex digits and decimal digits: no second check (10,000 VMAs pass here).
    start: BigInt(`0x${m[1]}`),
    end: BigInt(`0x${m[2]}`),
    prot: (m[3] === 'r' ? PROT_READ : 0) + (m[4] === 'w' ? PROT_WRITE : 0) + (m[5] === 'x' ? PROT_EXEC : 0),
    shared: m[6] === 's',
    offset: BigInt(`0x${m[7]}`),
    dev: `${m[8]}:${m[9]}`,
    devMajor: parseInt(m[8]!, 16),
    devMinor: parseInt(m[9]!, 16),
    inode: Number(m[10]),
    path,
    deleted,
  };
}

export function parseMaps(text: string): Vma[] {
  const out: Vma[] = [];
  for (const line of text.split('\n')) if (line !== '') out.push(parseVmaLine(line));
  return out;
}

export function readMaps(pid: number, tid?: number): Vma[] {
  return parseMaps(readProcText(`${taskDir(pid, tid)}/maps`));
}

/**
 * `vmas` without the addresses [start, end) (cryo's own scratch area in a dumped task): a VMA
 * inside it goes, one it was merged into is cut around it (its offset moved along with its start).
 */
export function withoutArea<T extends Vma>(vmas: readonly T[], start: bigint, end: bigint): T[] {
  const out: T[] = [];
  for (const v of vmas) {
    if (v.end <= start || v.start >= end) {
      out.push(v);
      continue;
    }
    if (v.start < start) out.push({ ...v, end: start });
    if (v.end > end) out.push({ ...v, start: end, offset: v.offset + (end - v.start) });
  }
  return out;
}
