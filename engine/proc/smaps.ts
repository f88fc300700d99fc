// /proc/PID/smaps: each VMA header of maps followed by `Key: N kB` lines and `VmFlags:`.
import { int, parseError, readProcText, taskDir } from './io.ts';
import { isVmaLine, parseVmaLine } from './maps.ts';
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

export function parseSmaps(text: string): SmapsEntry[] {
  const out: SmapsEntry[] = [];
  let vma: Vma | undefined;
  let kb = new Map<string, number>();
  let vmFlags: string[] = [];
  const flush = (): void => {
    if (vma === undefined) return;
    out.push({ ...vma, vmFlags, size: kb.get('Size') ?? 0, rss: kb.get('Rss') ?? 0, anonymous: kb.get('Anonymous') ?? 0, swap: kb.get('Swap') ?? 0 });
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (isVmaLine(line)) {
      flush();
      vma = parseVmaLine(line, 'smaps');
      kb = new Map();
      vmFlags = [];
      continue;
    }
    if (vma === undefined) throw parseError('smaps', 'field before the first VMA', line);
    if (line.startsWith('VmFlags:')) {
      vmFlags = line.slice(8).trim().split(/\s+/).filter((s) => s !== '');
      continue;
    }
    const m = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (m !== null) kb.set(m[1]!, int('smaps', m[2])); // others (THPeligible, ProtectionKey) are not sizes
  }
  flush();
  return out;
}

export function readSmaps(pid: number, tid?: number): SmapsEntry[] {
  return parseSmaps(readProcText(`${taskDir(pid, tid)}/smaps`));
}
