// ELF build-ids of the programs and libraries a tree maps (reg_file_entry.build_id, as CRIU's
// default --file-validation buildid): a restore refuses a file of the same path and size but
// another build, which would be mapped into a task expecting the old code. The parsing is pure
// (elfBuildId), the reading by the smallest reads it needs (readBuildId).
import { closeSync, openSync, readSync } from 'node:fs';

const PT_NOTE = 4;
const NT_GNU_BUILD_ID = 3;
/** Notes larger than this are not looked at (a build-id note is 36 bytes). */
const MAX_NOTES = 64 * 1024;

/** Where the program headers are, from the ELF header (`head`: its first 64 bytes); undefined if not ELF. */
export function elfProgramHeaders(head: Buffer): { readonly is64: boolean; readonly le: boolean; readonly off: number; readonly size: number; readonly count: number } | undefined {
  if (head.length < 52 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = head[4] === 2;
  const le = head[5] === 1;
  if ((!is64 && head[4] !== 1) || (!le && head[5] !== 2) || (is64 && head.length < 64)) return undefined;
  const u16 = (o: number): number => (le ? head.readUInt16LE(o) : head.readUInt16BE(o));
  const u32 = (o: number): number => (le ? head.readUInt32LE(o) : head.readUInt32BE(o));
  const u64 = (o: number): number => Number(le ? head.readBigUInt64LE(o) : head.readBigUInt64BE(o));
  return is64 ? { is64, le, off: u64(32), size: u16(54), count: u16(56) } : { is64, le, off: u32(28), size: u16(42), count: u16(44) };
}

/** The PT_NOTE segments (offset, size) among program headers `phdrs`. */
export function noteSegments(phdrs: Buffer, h: { readonly is64: boolean; readonly le: boolean; readonly size: number; readonly count: number }): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < h.count && (i + 1) * h.size <= phdrs.length; i++) {
    const p = phdrs.subarray(i * h.size, (i + 1) * h.size);
    const u32 = (o: number): number => (h.le ? p.readUInt32LE(o) : p.readUInt32BE(o));
    const u64 = (o: number): number => Number(h.le ? p.readBigUInt64LE(o) : p.readBigUInt64BE(o));
    if (u32(0) !== PT_NOTE) continue;
    out.push(h.is64 ? [u64(8), u64(32)] : [u32(4), u32(16)]);
  }
  return out;
}

/** The GNU build-id in a note segment's bytes, if there is one. */
export function buildIdInNotes(notes: Buffer, le: boolean): Buffer | undefined {
  const align4 = (n: number): number => (n + 3) & ~3;
  for (let o = 0; o + 12 <= notes.length; ) {
    const u32 = (at: number): number => (le ? notes.readUInt32LE(at) : notes.readUInt32BE(at));
    const namesz = u32(o);
    const descsz = u32(o + 4);
    const type = u32(o + 8);
    const name = o + 12;
    const desc = name + align4(namesz);
    if (desc + descsz > notes.length) return undefined;
    if (type === NT_GNU_BUILD_ID && namesz === 4 && notes.toString('latin1', name, name + 4) === 'GNU\0') return Buffer.from(notes.subarray(desc, desc + descsz));
    o = desc + align4(descsz);
  }
  return undefined;
}

/** The build-id as reg_file_entry.build_id stores it: the bytes as 32-bit words, in the machine's (little-endian) order. */
export function buildIdWords(id: Buffer): number[] {
  const padded = Buffer.alloc(Math.ceil(id.length / 4) * 4);
  id.copy(padded);
  const words: number[] = [];
  for (let i = 0; i < padded.length; i += 4) words.push(padded.readUInt32LE(i));
  return words;
}

/** The GNU build-id of the ELF file at `path`, or undefined (not ELF, none, unreadable). */
export function readBuildId(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const read = (off: number, len: number): Buffer => {
      const b = Buffer.alloc(len);
      const n = readSync(fd, b, 0, len, off);
      return b.subarray(0, n);
    };
    const h = elfProgramHeaders(read(0, 64));
    if (!h || h.size < (h.is64 ? 56 : 32) || h.count === 0) return undefined;
    const phdrs = read(h.off, h.size * h.count);
    for (const [off, size] of noteSegments(phdrs, h)) {
      if (size > MAX_NOTES) continue;
      const id = buildIdInNotes(read(off, size), h.le);
      if (id) return id;
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
