// What manifest.json must list for a file's bytes, computed with node:crypto alone: the plain
// SHA-256 of a file of one piece, else the SHA-256 of each PIECE_BYTES piece.
import { createHash } from 'node:crypto';
import { PIECE_BYTES } from '../../engine/images/index.ts';

export function expectedListing(bytes: Uint8Array): { size: number; sha256?: string; piece_bytes?: number; sha256_pieces?: string[] } {
  const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
  if (bytes.length <= PIECE_BYTES) return { size: bytes.length, sha256: sha(bytes) };
  const pieces: string[] = [];
  for (let off = 0; off < bytes.length; off += PIECE_BYTES) pieces.push(sha(bytes.subarray(off, off + PIECE_BYTES)));
  return { size: bytes.length, piece_bytes: PIECE_BYTES, sha256_pieces: pieces };
}
