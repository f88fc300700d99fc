// The only code that knows CRIU's wire framing (criu-format §1.1):
//   [u32 head magic] u32 image magic, then entries of u32 size + message [+ raw payload].
// Integers are little-endian u32 (fixed 4 bytes, not protobuf varints). EOF is allowed only at an
// entry boundary; anything else is an ImageError naming the file and the byte offset.

import { ImageError } from '../../errors.ts';

export const HEAD_MAGICS = { common: 0x54564319, service: 0x55105940 } as const;
export type Head = 'common' | 'service' | 'none';

export interface Header {
  readonly head: Head;
  readonly magic: number;
  /** Offset of the first entry. */
  readonly end: number;
}

function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(value, 0);
  return b;
}

export function encodeHeader(head: Head, magic: number): Buffer {
  return head === 'none' ? u32(magic) : Buffer.concat([u32(HEAD_MAGICS[head]), u32(magic)]);
}

/** Reads the header, telling the head magic apart from the image magic (inventory has none). */
export function decodeHeader(buf: Uint8Array, file: string): Header {
  const cur = new FrameCursor(buf, file, 0);
  const first = cur.u32('magic');
  for (const head of ['common', 'service'] as const) {
    if (first === HEAD_MAGICS[head]) return { head, magic: cur.u32('image magic'), end: cur.offset };
  }
  return { head: 'none', magic: first, end: cur.offset };
}

/** u32 size + message, as two buffers to write back to back. */
export function encodeFrame(msg: Uint8Array): [Buffer, Uint8Array] {
  return [u32(msg.length), msg];
}

/** Zero bytes that pad `length` up to a multiple of `align`. */
export function padding(length: number, align = 1): Buffer {
  const rem = length % align;
  return Buffer.alloc(rem === 0 ? 0 : align - rem);
}

/** Walks an image buffer frame by frame; every read checks the bounds. */
export class FrameCursor {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  readonly #file: string;
  #off: number;

  constructor(buf: Uint8Array, file: string, offset: number) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#file = file;
    this.#off = offset;
  }

  get offset(): number {
    return this.#off;
  }

  atEnd(): boolean {
    return this.#off >= this.#buf.length;
  }

  u32(what: string): number {
    if (this.#off + 4 > this.#buf.length) {
      const have = this.#buf.length - this.#off;
      throw new ImageError(`${this.#file}: truncated ${what} at byte ${this.#off} (${have} of 4 bytes)`);
    }
    const v = this.#view.getUint32(this.#off, true);
    this.#off += 4;
    return v;
  }

  /** The next entry's message bytes (u32 size, then that many bytes). */
  message(): Uint8Array {
    const at = this.#off;
    const size = this.u32('entry size');
    if (this.#off + size > this.#buf.length) {
      const have = this.#buf.length - this.#off;
      throw new ImageError(`${this.#file}: entry at byte ${at} needs ${size} bytes, only ${have} left (truncated?)`);
    }
    return this.take(size, 'entry');
  }

  /** `n` raw bytes (an entry's payload). */
  take(n: number, what: string): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0 || this.#off + n > this.#buf.length) {
      const have = this.#buf.length - this.#off;
      throw new ImageError(`${this.#file}: ${what} at byte ${this.#off} needs ${n} bytes, only ${have} left (truncated?)`);
    }
    const out = this.#buf.subarray(this.#off, this.#off + n);
    this.#off += n;
    return out;
  }

  /** Everything up to EOF. */
  rest(): Uint8Array {
    return this.take(this.#buf.length - this.#off, 'payload');
  }
}
