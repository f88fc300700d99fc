// Reading and writing another task's memory: process_vm_readv/writev in batches, with
// /proc/PID/mem for what they can't reach (pages without read permission).
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { SyscallError } from './check.ts';
import { IOV_MAX } from './constants.ts';
import { addressOf, callInBackground, lastErrno, sys } from './libc.ts';

export interface RemoteRange {
  readonly addr: bigint;
  readonly len: number;
}

function iovecs(ranges: readonly RemoteRange[]): Buffer {
  const buf = Buffer.alloc(ranges.length * 16);
  ranges.forEach((r, i) => {
    buf.writeBigUInt64LE(r.addr, i * 16);
    buf.writeBigUInt64LE(BigInt(r.len), i * 16 + 8);
  });
  return buf;
}

/**
 * process_vm_readv/writev calls for `ranges` (IOV_MAX a call), each with one local iovec: the
 * part of `local` that follows the previous calls' bytes (callers stop at the first short call).
 */
function* vmCalls(local: Uint8Array, ranges: readonly RemoteRange[]): Generator<{ lvec: Buffer; rvec: Buffer; count: number; want: number }> {
  let off = 0;
  for (let i = 0; i < ranges.length; i += IOV_MAX) {
    const chunk = ranges.slice(i, i + IOV_MAX);
    const want = chunk.reduce((s, r) => s + r.len, 0);
    const lvec = Buffer.alloc(16);
    lvec.writeBigUInt64LE(addressOf(local) + BigInt(off), 0);
    lvec.writeBigUInt64LE(BigInt(want), 8);
    yield { lvec, rvec: iovecs(chunk), count: chunk.length, want };
    off += want;
  }
}

/**
 * Reads the remote ranges, in order, into `local` (starting at byte 0): one process_vm_readv per
 * IOV_MAX ranges. Returns the number of bytes read (short only if a range is unreadable).
 */
export function readRanges(pid: number, local: Uint8Array, ranges: readonly RemoteRange[]): number {
  let done = 0;
  for (const c of vmCalls(local, ranges)) {
    const n = sys.processVmReadv(pid, c.lvec, 1, c.rvec, c.count, 0);
    if (n < 0) {
      const errno = lastErrno();
      if (errno === 14 /* EFAULT: e.g. a PROT_NONE page */) return done;
      throw new SyscallError('process_vm_readv', errno, `${pid}, ${c.count} ranges`);
    }
    done += n;
    if (n < c.want) return done;
  }
  return done;
}

/**
 * Writes `local` (from byte 0) to the remote ranges, in order, with process_vm_writev run on a
 * thread of libuv's pool, IOV_MAX ranges a call: the caller's thread is free meanwhile (restore
 * has the task read the other half of its pages then). Resolves with the bytes written, short
 * when a range could not be written (read-only, or the call failed): the caller does the rest.
 * `local` must stay valid until the promise settles.
 */
export async function writeRangesInBackground(pid: number, local: Uint8Array, ranges: readonly RemoteRange[]): Promise<number> {
  let done = 0;
  for (const c of vmCalls(local, ranges)) {
    const n = await callInBackground(sys.processVmWritev, pid, c.lvec, 1, c.rvec, c.count, 0);
    if (n > 0) done += n;
    if (n < c.want) return done;
  }
  return done;
}

export function readMemory(pid: number, addr: bigint, len: number): Buffer {
  const buf = Buffer.alloc(len);
  const n = readRanges(pid, buf, [{ addr, len }]);
  if (n < len) readProcMem(pid, addr, buf.subarray(n), n);
  return buf;
}

/** /proc/PID/mem reads pages that process_vm_readv refuses (no PROT_READ). */
export function readProcMem(pid: number, addr: bigint, into: Uint8Array, skip = 0): void {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    let off = 0;
    while (off < into.byteLength) {
      const n = readSync(fd, into, off, into.byteLength - off, addr + BigInt(skip + off));
      if (n <= 0) throw new SyscallError('read', 5, `/proc/${pid}/mem @0x${(addr + BigInt(skip + off)).toString(16)}`);
      off += n;
    }
  } finally {
    closeSync(fd);
  }
}

export function writeMemory(pid: number, addr: bigint, data: Uint8Array): void {
  const lvec = Buffer.alloc(16);
  lvec.writeBigUInt64LE(addressOf(data), 0);
  lvec.writeBigUInt64LE(BigInt(data.byteLength), 8);
  const n = sys.processVmWritev(pid, lvec, 1, iovecs([{ addr, len: data.byteLength }]), 1, 0);
  if (n === data.byteLength) return;
  // Read-only target pages: /proc/PID/mem writes with FOLL_FORCE for a tracer.
  const fd = openSync(`/proc/${pid}/mem`, 'r+');
  try {
    const w = writeSync(fd, data, 0, data.byteLength, Number(addr)); // user addresses < 2^47: exact as a number
    if (w !== data.byteLength) throw new SyscallError('write', 5, `/proc/${pid}/mem @0x${addr.toString(16)}`);
  } finally {
    closeSync(fd);
  }
}
