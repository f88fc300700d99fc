// SHA-256 of memory (a mapped piece of an image), by the system's OpenSSL on one of libuv's pool
// threads: several pieces are hashed at once on every core, in place, while cryo's main thread
// goes on — without a worker thread, whose start-up costs ~35 ms of CPU.
import { addressOf, callInBackground, libcrypto } from './libc.ts';

/** Whether sha256InBackground() can be used (libcrypto.so.3 is installed). */
export function sha256InBackgroundAvailable(): boolean {
  return libcrypto() !== null;
}

/**
 * Resolves with the SHA-256 of `len` bytes at `addr` (memory that stays mapped until then).
 * Rejects if OpenSSL fails or isn't there.
 */
export async function sha256InBackground(addr: bigint, len: number): Promise<Buffer> {
  const c = libcrypto();
  if (!c) throw new Error('libcrypto.so.3 is not installed');
  const md = Buffer.alloc(32);
  const size = Buffer.alloc(4);
  const ok = await callInBackground(c.digest, addr, len, addressOf(md), addressOf(size), c.sha256, null);
  // Kept alive until here: the pool thread wrote into them.
  if (ok !== 1 || size.readUInt32LE(0) !== 32) throw new Error(`EVP_Digest failed (${ok})`);
  return md;
}
