// The manifest's hash of a file: SHA-256 of each PIECE_BYTES piece of it, in order (the last
// piece may be shorter; an empty file is one empty piece). A file of one piece is listed with its
// plain SHA-256, so small images read as `sha256sum` prints them; a large one lists its pieces,
// so that several cores can hash it at once (one core does ~1.6 GB/s: half a second for the
// pages of a 1 GiB process). Shared by the dump's writers, restore's checks and the hash workers.
import crypto from 'node:crypto';
import fs from 'node:fs';

/**
 * Bytes of one piece (a multiple of the page size: pieces of a file can be mapped one by one).
 * 8 MiB: what is still to hash once a dump's last page is written is about one piece (~5 ms; it
 * was ~18 ms with 32 MiB pieces), and a 2 GiB image lists 256 digests (16 KiB of manifest).
 */
export const PIECE_BYTES = 8 * 1024 * 1024;

/** Number of pieces of a file of `size` bytes. */
export function pieceCount(size: number, pieceBytes = PIECE_BYTES): number {
  return Math.max(1, Math.ceil(size / pieceBytes));
}

/** SHA-256 of consecutive pieces of a stream of bytes fed in any slices. */
export class PieceHash {
  readonly #pieceBytes: number;
  readonly #digests: Buffer[] = [];
  #hash = crypto.createHash('sha256');
  #inPiece = 0;

  constructor(pieceBytes = PIECE_BYTES) {
    this.#pieceBytes = pieceBytes;
  }

  update(bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length; ) {
      const take = Math.min(bytes.length - off, this.#pieceBytes - this.#inPiece);
      this.#hash.update(bytes.subarray(off, off + take));
      off += take;
      this.#inPiece += take;
      if (this.#inPiece === this.#pieceBytes) {
        this.#digests.push(this.#hash.digest());
        this.#hash = crypto.createHash('sha256');
        this.#inPiece = 0;
      }
    }
  }

  /** The pieces' digests (raw, 32 bytes each); nothing may be added after. */
  finish(): Buffer[] {
    if (this.#inPiece > 0 || this.#digests.length === 0) this.#digests.push(this.#hash.digest());
    this.#inPiece = 0;
    return this.#digests;
  }
}

/** The pieces' digests of a file, read here (for small files: large ones go to FileHasher's workers). */
export function hashFilePieces(file: string, pieceBytes = PIECE_BYTES): string[] {
  const hash = new PieceHash(pieceBytes);
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = fs.openSync(file, 'r');
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.finish().map((d) => d.toString('hex'));
}
