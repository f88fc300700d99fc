// /proc/PID/smaps: each VMA header of maps followed by `Key: N kB` lines and `VmFlags:`.
import { parseError, readProcText, taskDir } from './io.ts';
import { parseVmaLine } from './maps.ts';
import type { Vma } from './maps.ts';

export interface SmapsEntry extends Vma {
  /** Two-letter flags as printed: `dd` MADV_DONTDUMP, `wf` WIPEONFORK, `dc` DONTFORK, `gd` growsdown, `lo` locked, `ht` hugetlb, `sl` sealed … */
  readonly vmFlags: readonly string[];
  /** kB. */
  readonly size: number;
  readonly rss: number;
  readonly anonymous: number;
  readonly swap: number;
}

// Of the `Key: N kB` lines only these are kept (the rest are read past without a regex or a Map:
// a process with 10,000 VMAs has 250,000 lines).
const SIZE_KEYS: Readonly<Record<string, 'size' | 'rss' | 'anonymous' | 'swap'>> = { Size: 'size', Rss: 'rss', Anonymous: 'anonymous', Swap: 'swap' };

/** `Key:   N kB` → N; undefined when the value is not a size. */
function kbValue(line: string, from: number): number | undefined {
  let i = from;
  while (line.charCodeAt(i) === 32) i++;
  const start = i;
  while (i < line.length && line.charCodeAt(i) >= 48 && line.charCodeAt(i) <= 57) i++;
  if (i === start || line.slice(i) !== ' kB') return undefined;
  return Number(line.slice(start, i));
}

export function parseSmaps(text: string): SmapsEntry[] {
  const out: SmapsEntry[] = [];
  let vma: Vma | undefined;
  let sizes = { size: 0, rss: 0, anonymous: 0, swap: 0 };
  let vmFlags: string[] = [];
  const flush = (): void => {
    if (vma === undefined) return;
    const v = vma;
    // One literal, not spreads: this runs once per VMA.
    out.push({
      start: v.start,
      end: v.end,
      prot: v.prot,
      shared: v.shared,
      offset: v.offset,
      dev: v.dev,
      devMajor: v.devMajor,
      devMinor: v.devMinor,
      inode: v.inode,
      path: v.path,
      deleted: v.deleted,
      vmFlags,
      size: sizes.size,
      rss: sizes.rss,
      anonymous: sizes.anonymous,
      swap: sizes.swap,
    });
  };
  let at = 0;
  while (at < text.length) {
    let nl = text.indexOf('\n', at);
    if (nl < 0) nl = text.length;
    const line = text.slice(at, nl);
    at = nl + 1;
    if (line === '') continue;
    const colon = line.indexOf(':');
    // A header starts with the start address in hex; keys are words ending in ':' before any space.
    const space = line.indexOf(' ');
    if (colon < 0 || (space >= 0 && space < colon)) {
      flush();
      vma = parseVmaLine(line, 'smaps');
      sizes = { size: 0, rss: 0, anonymous: 0, swap: 0 };
      vmFlags = [];
      continue;
    }
    if (vma === undefined) throw parseError('smaps', 'field before the first VMA', line);
    const key = line.slice(0, colon);
    if (key === 'VmFlags') {
      vmFlags = line.slice(colon + 1).split(' ').filter((s) => s !== '');
      continue;
    }
    const field = SIZE_KEYS[key];
    if (field === undefined) continue;
    const v = kbValue(line, colon + 1);
    if (v === undefined) throw parseError('smaps', `bad ${key}`, line);
    sizes[field] = v;
  }
  flush();
  return out;
}

export function readSmaps(pid: number, tid?: number): SmapsEntry[] {
  return parseSmaps(readProcText(`${taskDir(pid, tid)}/smaps`));
}
