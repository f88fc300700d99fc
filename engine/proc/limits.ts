// /proc/PID/limits: a header, then one fixed-width line per RLIMIT_*, in the kernel's order.
import { dec64, parseError, readProcText } from './io.ts';

export const RLIM_INFINITY = 0xffffffffffffffffn;

/** Names as the kernel prints them, index = RLIMIT_* number. */
export const RLIMIT_NAMES = [
  'Max cpu time', // RLIMIT_CPU
  'Max file size',
  'Max data size',
  'Max stack size',
  'Max core file size',
  'Max resident set',
  'Max processes',
  'Max open files',
  'Max locked memory',
  'Max address space',
  'Max file locks',
  'Max pending signals',
  'Max msgqueue size',
  'Max nice priority',
  'Max realtime priority',
  'Max realtime timeout', // RLIMIT_RTTIME = 15
] as const;

export interface Rlimit {
  readonly name: string;
  readonly soft: bigint;
  readonly hard: bigint;
}

const NAME_WIDTH = 25; // "%-25s " in fs/proc/base.c; units may be blank, so split by column

export function parseLimits(text: string): Rlimit[] {
  const lines = text.split('\n').filter((l) => l !== '');
  if (!lines[0]?.startsWith('Limit ')) throw parseError('limits', 'missing header', text);
  const value = (s: string | undefined): bigint => (s === 'unlimited' ? RLIM_INFINITY : dec64('limits', s));
  const out = lines.slice(1).map((line): Rlimit => {
    const [soft, hard] = line.slice(NAME_WIDTH).trim().split(/\s+/);
    return { name: line.slice(0, NAME_WIDTH).trimEnd(), soft: value(soft), hard: value(hard) };
  });
  out.forEach((l, i) => {
    if (i < RLIMIT_NAMES.length && l.name !== RLIMIT_NAMES[i]) throw parseError('limits', `line ${i + 1} is ${JSON.stringify(l.name)}, expected ${RLIMIT_NAMES[i]}`);
  });
  if (out.length < RLIMIT_NAMES.length) throw parseError('limits', `expected ${RLIMIT_NAMES.length} limits, got ${out.length}`);
  return out;
}

export function readLimits(pid: number): Rlimit[] {
  return parseLimits(readProcText(`/proc/${pid}/limits`));
}
