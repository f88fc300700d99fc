// File handles (open_by_handle_at): turning an inotify watch's handle back into an open file.
// struct file_handle { u32 handle_bytes; int handle_type; unsigned char f_handle[]; }.
import { check } from './check.ts';
import { NR } from './constants.ts';
import { syscallArgs } from './libc.ts';

/** Opens the file behind a handle, on the filesystem that `mountFd` (any fd on it) lives on. */
export function openByHandleAt(mountFd: number, type: number, handle: Uint8Array, flags: number): number {
  const fh = Buffer.alloc(8 + handle.byteLength);
  fh.writeUInt32LE(handle.byteLength, 0);
  fh.writeInt32LE(type, 4);
  fh.set(handle, 8);
  return check(syscallArgs(NR.open_by_handle_at, mountFd, fh, flags), 'open_by_handle_at', `mount fd ${mountFd}, type ${type}`);
}
