// /proc/PID/auxv: the raw auxiliary vector, u64 (type, value) pairs ending in AT_NULL.
import { parseError, readProcBuffer } from './io.ts';

export const AT_NULL = 0n;

/** Flat u64 words, the terminating AT_NULL pair included; anything after it is dropped. */
export function parseAuxv(buf: Buffer): bigint[] {
  if (buf.length % 16 !== 0) throw parseError('auxv', `length ${buf.length} is not a multiple of 16`);
  const out: bigint[] = [];
  for (let off = 0; off < buf.length; off += 16) {
    const type = buf.readBigUInt64LE(off);
    out.push(type, buf.readBigUInt64LE(off + 8));
    if (type === AT_NULL) return out;
  }
  throw parseError('auxv', 'no AT_NULL terminator');
}

export function readAuxv(pid: number): bigint[] {
  return parseAuxv(readProcBuffer(`/proc/${pid}/auxv`));
}
