// Whole image files in memory: the kind table's rules (head, magic, message of each entry, payload
// rule) applied on top of framing.ts and codec.ts. No file I/O here.

import { ImageError, InternalError } from '../../errors.ts';
import { decodeMessage, encodeMessage, hasMessage } from './codec.ts';
import type { Entry } from './codec.ts';
import { decodeHeader, encodeFrame, encodeHeader, FrameCursor, HEAD_MAGICS, padding } from './framing.ts';
import { IMAGE_KINDS, kindByMagic } from './kinds.ts';
import type { ImageKind, ImageKindName, PayloadRule } from './kinds.ts';

export interface DecodedImage {
  /** The kind the magic decodes to, named as crit names it ("CORE", "PAGEMAP", …). */
  readonly magic: ImageKindName;
  readonly entries: Entry[];
  /** Raw bytes after each entry, index-aligned with `entries`; only for kinds with a payload rule. */
  readonly payloads?: (Buffer | undefined)[];
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Message of entry `index` of a kind. */
export function entryMessage(kind: ImageKind, index: number): string {
  const message = index === 0 && kind.first !== undefined ? kind.first : kind.message;
  if (message === null) throw new InternalError('raw images have no entries');
  return message;
}

function count(entry: Entry, field: string, where: string): number {
  const v = entry[field];
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new ImageError(`${where}: payload size field ${field} is ${String(v)}`);
  }
  return n;
}

/** How many payload bytes follow entry `index` ('rest' = up to EOF), and the padding after them. */
function payloadSpan(rule: PayloadRule, entry: Entry, index: number, where: string): { bytes: number | 'rest'; align?: number } {
  if (rule.kind === 'sized') {
    const sum = rule.fields.reduce((acc, f) => acc + count(entry, f, where), 0);
    return { bytes: sum * (rule.unit ?? 1), ...(rule.align === undefined ? {} : { align: rule.align }) };
  }
  if (index === 0) return { bytes: entry[rule.chunked] === true ? 0 : 'rest' };
  return { bytes: count(entry, rule.length, where) };
}

/** Encodes a whole image; returns the buffers to write in order. */
export function encodeImage(
  name: ImageKindName,
  entries: readonly object[],
  payloads: readonly (Uint8Array | undefined)[] | undefined,
  file: string,
): Uint8Array[] {
  const kind: ImageKind = IMAGE_KINDS[name];
  if (kind.message === null) throw new InternalError(`${file}: ${name} is a raw image; use openRaw()`);
  const rule = kind.payload;
  if (payloads !== undefined && rule === undefined) throw new InternalError(`${file}: ${name} entries carry no payload`);
  const out: Uint8Array[] = [encodeHeader(kind.head, kind.magic)];
  entries.forEach((entry, i) => {
    const what = `${file} entry ${i}`;
    out.push(...encodeFrame(encodeMessage(entryMessage(kind, i), entry, what)));
    if (rule === undefined) return;
    const span = payloadSpan(rule, entry as Entry, i, what);
    const payload = payloads?.[i] ?? new Uint8Array(0);
    if (span.bytes === 'rest') {
      if (entries.length !== 1) throw new InternalError(`${what}: an unchunked ${name} has exactly one entry`);
    } else if (payload.length !== span.bytes) {
      throw new InternalError(`${what}: payload has ${payload.length} bytes, the entry says ${span.bytes}`);
    }
    out.push(payload, padding(payload.length, span.align));
  });
  return out;
}

/**
 * Decodes a whole image. With `expected`, the head and image magic must be that kind's;
 * without, the kind is found from the magic (any CRIU image cryo has a schema for).
 */
export function decodeImage(buf: Uint8Array, file: string, expected?: ImageKindName): DecodedImage {
  const header = decodeHeader(buf, file);
  let name: ImageKindName;
  if (expected !== undefined) {
    const kind: ImageKind = IMAGE_KINDS[expected];
    if (kind.message === null) throw new InternalError(`${file}: ${expected} is a raw image`);
    if (header.magic !== kind.magic || header.head !== kind.head) {
      const want = kind.head === 'none' ? hex(kind.magic) : `${hex(HEAD_MAGICS[kind.head])} ${hex(kind.magic)}`;
      const got = header.head === 'none' ? hex(header.magic) : `${hex(HEAD_MAGICS[header.head])} ${hex(header.magic)}`;
      throw new ImageError(`${file}: bad magic ${got}, expected ${want} (${expected}); not a ${expected} image`);
    }
    name = expected;
  } else {
    const found = kindByMagic(header.magic);
    if (found === undefined) {
      throw new ImageError(`${file}: unknown magic ${hex(header.magic)} (a raw image such as pages-*.img?)`);
    }
    name = found;
  }
  const kind: ImageKind = IMAGE_KINDS[name];
  const rule = kind.payload;
  const entries: Entry[] = [];
  const payloads: (Buffer | undefined)[] = [];
  const cur = new FrameCursor(buf, file, header.end);
  while (!cur.atEnd()) {
    const at = cur.offset;
    const message = entryMessage(kind, entries.length);
    if (!hasMessage(message)) {
      throw new ImageError(`${file}: ${name} entries (${message}) are not described in schemas/criu yet`);
    }
    const where = `${file}: entry at byte ${at}`;
    const entry = decodeMessage(message, cur.message(), where);
    if (rule !== undefined) {
      const span = payloadSpan(rule, entry, entries.length, where);
      const raw = span.bytes === 'rest' ? cur.rest() : cur.take(span.bytes, 'payload');
      const pad = padding(raw.length, span.align).length;
      if (pad > 0) cur.take(pad, 'padding');
      payloads.push(span.bytes === 0 && rule.kind === 'ghost' ? undefined : Buffer.from(raw));
    }
    entries.push(entry);
  }
  return rule === undefined ? { magic: name, entries } : { magic: name, entries, payloads };
}
