// protobuf messages ⇄ plain JS objects, by the schemas in schemas/criu (as the table that
// schema-table.ts makes of them). The proto2 wire format is read and written here directly: one
// pass over the bytes, 64-bit values straight to and from bigint, no intermediate objects.
// The conversion rules live here and only here:
//   64-bit integers → bigint; 32-bit integers and enums → number; bool → boolean; string → string;
//   bytes → Buffer; nested messages → plain objects; repeated → arrays.
// Decoded objects hold only the fields present on the wire, in field-number order (like crit).
// Encoding writes required fields always (even 0), optional ones only when present in the
// object, in field-number order, repeated scalars unpacked (proto2 default; CRIU never packs) —
// byte for byte what protobufjs (and CRIU's protobuf-c) write. Decoding accepts packed repeated
// scalars and skips unknown fields, as protobufjs did.

import { ImageError, InternalError } from '../../errors.ts';
import { buildSchemaTable, readSchemaTable, schemaDir } from './schema-table.ts';
import type { SchemaTable } from './schema-table.ts';

export type Entry = { [field: string]: unknown };

export type FieldKind = 'int32' | 'int64' | 'bool' | 'string' | 'bytes' | 'float' | 'enum' | 'message';

export interface FieldInfo {
  readonly name: string;
  readonly id: number;
  readonly rule: 'required' | 'optional' | 'repeated';
  /** Type as written in the .proto: 'uint64', 'bytes', 'vma_entry', 'fd_types' … */
  readonly type: string;
  readonly kind: FieldKind;
  readonly signed: boolean;
  /** Message name, for kind 'message'. */
  readonly message?: string;
  /** Value → name, for kind 'enum'. */
  readonly enumNames?: ReadonlyMap<number, string>;
  /** `(criu).hex`: crit --pretty prints it (and everything nested in it) as 0x…. */
  readonly hex: boolean;
  /** `(criu).dict`: name of crit's value → name table for --pretty. */
  readonly dict?: string;
  /** `(criu).conv`: crit's own text form of a bytes field (unix_name). */
  readonly conv?: string;
}

export interface MessageInfo {
  readonly name: string;
  /** Sorted by field number. */
  readonly fields: readonly FieldInfo[];
  readonly byName: ReadonlyMap<string, FieldInfo>;
}

const KIND_OF_TYPE: Readonly<Record<string, { kind: FieldKind; signed: boolean }>> = {
  int32: { kind: 'int32', signed: true },
  sint32: { kind: 'int32', signed: true },
  sfixed32: { kind: 'int32', signed: true },
  uint32: { kind: 'int32', signed: false },
  fixed32: { kind: 'int32', signed: false },
  int64: { kind: 'int64', signed: true },
  sint64: { kind: 'int64', signed: true },
  sfixed64: { kind: 'int64', signed: true },
  uint64: { kind: 'int64', signed: false },
  fixed64: { kind: 'int64', signed: false },
  bool: { kind: 'bool', signed: false },
  string: { kind: 'string', signed: false },
  bytes: { kind: 'bytes', signed: false },
  double: { kind: 'float', signed: true },
  float: { kind: 'float', signed: true },
};

// ---- schema --------------------------------------------------------------------------------

/** How a field is read and written on the wire. */
const Code = {
  INT32: 0, UINT32: 1, SINT32: 2, FIXED32: 3, SFIXED32: 4, ENUM: 5, BOOL: 6,
  INT64: 7, UINT64: 8, SINT64: 9, FIXED64: 10, SFIXED64: 11,
  FLOAT: 12, DOUBLE: 13, STRING: 14, BYTES: 15, MESSAGE: 16,
} as const;
type Code = (typeof Code)[keyof typeof Code];

const CODE_OF_TYPE: Readonly<Record<string, Code>> = {
  int32: Code.INT32, uint32: Code.UINT32, sint32: Code.SINT32, fixed32: Code.FIXED32, sfixed32: Code.SFIXED32,
  int64: Code.INT64, uint64: Code.UINT64, sint64: Code.SINT64, fixed64: Code.FIXED64, sfixed64: Code.SFIXED64,
  bool: Code.BOOL, float: Code.FLOAT, double: Code.DOUBLE, string: Code.STRING, bytes: Code.BYTES,
};

const WIRE = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

function wireTypeOf(code: Code): number {
  if (code <= Code.BOOL) return code === Code.FIXED32 || code === Code.SFIXED32 ? WIRE.I32 : WIRE.VARINT;
  if (code <= Code.SFIXED64) return code === Code.FIXED64 || code === Code.SFIXED64 ? WIRE.I64 : WIRE.VARINT;
  if (code === Code.FLOAT) return WIRE.I32;
  if (code === Code.DOUBLE) return WIRE.I64;
  return WIRE.LEN;
}

/** A field ready for the wire: FieldInfo plus how to code it. */
interface WireField {
  readonly info: FieldInfo;
  readonly code: Code;
  /** Wire type of one element (packed repeated fields are written as LEN). */
  readonly wt: number;
  readonly packed: boolean;
  /** 64-bit kinds are bigint in objects. */
  readonly big: boolean;
  /** Tag of one element: field number × 8 + wire type. */
  readonly tag: number;
  readonly write: ValueWriter;
  message?: WireMessage;
}

interface WireMessage {
  readonly info: MessageInfo;
  readonly fields: readonly WireField[];
  /** Field number → field. */
  readonly byId: ReadonlyMap<number, WireField>;
  readonly required: readonly WireField[];
}

interface Schema {
  readonly table: SchemaTable;
  readonly infos: Map<string, MessageInfo>;
  readonly wire: Map<string, WireMessage>;
}

let schema: Schema | undefined;

function loadSchema(): Schema {
  if (schema !== undefined) return schema;
  const dir = schemaDir();
  const table = readSchemaTable(dir) ?? buildSchemaTable(dir);
  schema = { table, infos: new Map(), wire: new Map() };
  return schema;
}

/** Full name of a message (or enum) in the table; a bare name also finds a unique nested one. */
function resolveName(names: Record<string, unknown>, name: string): string | undefined {
  if (Object.hasOwn(names, name)) return name;
  const nested = Object.keys(names).filter((n) => n.endsWith(`.${name}`));
  return nested.length === 1 ? nested[0] : undefined;
}

/** Is this message defined in schemas/criu? */
export function hasMessage(name: string): boolean {
  return resolveName(loadSchema().table.messages, name) !== undefined;
}

/** Names of all messages in schemas/criu (nested ones as 'outer.inner'). */
export function listMessages(): string[] {
  return Object.keys(loadSchema().table.messages).sort();
}

export function messageInfo(name: string): MessageInfo {
  const { table, infos } = loadSchema();
  const cached = infos.get(name);
  if (cached !== undefined) return cached;
  const full = resolveName(table.messages, name);
  if (full === undefined) throw new InternalError(`no message ${name} in schemas/criu`);
  const fields = table.messages[full]!.map((r): FieldInfo => {
    const base = { name: r.name, id: r.id, rule: r.rule, type: r.type, hex: r.hex === true } as const;
    const withDict = { ...base, ...(r.dict === undefined ? {} : { dict: r.dict }), ...(r.conv === undefined ? {} : { conv: r.conv }) };
    if (r.message !== undefined) return { ...withDict, kind: 'message', signed: false, message: r.message };
    if (r.enum !== undefined) {
      const enumNames = new Map(Object.entries(table.enums[r.enum]!).map(([k, v]) => [v, k]));
      return { ...withDict, kind: 'enum', signed: true, enumNames };
    }
    const scalar = KIND_OF_TYPE[r.type];
    if (scalar === undefined) throw new InternalError(`${name}.${r.name}: unsupported type ${r.type}`);
    return { ...withDict, kind: scalar.kind, signed: scalar.signed };
  });
  const info: MessageInfo = { name: full, fields, byName: new Map(fields.map((f) => [f.name, f])) };
  infos.set(name, info);
  return info;
}

function wireMessage(name: string): WireMessage {
  const { table, wire } = loadSchema();
  const cached = wire.get(name);
  if (cached !== undefined) return cached;
  const info = messageInfo(name);
  const rows = table.messages[info.name]!;
  const fields = info.fields.map((f, i): WireField => {
    const code = f.kind === 'message' ? Code.MESSAGE : f.kind === 'enum' ? Code.ENUM : CODE_OF_TYPE[f.type]!;
    const wt = wireTypeOf(code);
    return { info: f, code, wt, packed: rows[i]!.packed === true, big: f.kind === 'int64', tag: f.id * 8 + wt, write: WRITERS[code] };
  });
  const msg: WireMessage = { info, fields, byId: new Map(fields.map((f) => [f.info.id, f])), required: fields.filter((f) => f.info.rule === 'required') };
  wire.set(name, msg);
  // Nested types after the cache entry: recursive messages end here.
  for (const f of fields) if (f.code === Code.MESSAGE) f.message = wireMessage(f.info.message!);
  return msg;
}

/** Values of a schema enum by name, e.g. `protoEnum('fd_types').REG === 1`. */
export function protoEnum(name: string): Readonly<Record<string, number>> {
  const { enums } = loadSchema().table;
  const full = resolveName(enums, name);
  if (full === undefined) throw new InternalError(`no enum ${name} in schemas/criu`);
  return enums[full]!;
}

// ---- encode -------------------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const TWO32 = 2 ** 32;

function bad(where: string, what: string, value: unknown): never {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'object' ? 'an object' : JSON.stringify(value);
  throw new InternalError(`cannot encode ${where}: expected ${what}, got ${shown}`);
}

/** A growing output buffer, reused from one message to the next. */
class Writer {
  buf = new Uint8Array(64 * 1024);
  view = new DataView(this.buf.buffer);
  pos = 0;

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    bigger.set(this.buf.subarray(0, this.pos));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }

  /** 0 ≤ v < 2^32. */
  varint32(v: number): void {
    this.reserve(5);
    const b = this.buf;
    while (v > 127) {
      b[this.pos++] = (v & 127) | 128;
      v = v >>> 7;
    }
    b[this.pos++] = v;
  }

  /** A 64-bit varint from its unsigned 32-bit halves. */
  varint64(lo: number, hi: number): void {
    if (hi === 0) return this.varint32(lo);
    this.reserve(10);
    const b = this.buf;
    // 28 bits of lo, then 3 + (hi) … as in every protobuf writer.
    for (let i = 0; i < 4; i++) {
      b[this.pos++] = (lo & 127) | 128;
      lo = lo >>> 7;
    }
    const rest = lo | ((hi & 7) << 4);
    hi = hi >>> 3;
    if (hi === 0) {
      b[this.pos++] = rest;
      return;
    }
    b[this.pos++] = rest | 128;
    while (hi > 127) {
      b[this.pos++] = (hi & 127) | 128;
      hi = hi >>> 7;
    }
    b[this.pos++] = hi;
  }

  /** A signed 32-bit value: negative ones sign-extended to 10 bytes (protobuf's int32). */
  int32(v: number): void {
    if (v >= 0) this.varint32(v);
    else this.varint64(v >>> 0, 0xffffffff);
  }

  bigVarint(v: bigint): void {
    if (v >= 0n && v <= 0x1fffffffffffffn) {
      const n = Number(v); // exact below 2^53; ToUint32 takes it modulo 2^32
      return n < TWO32 ? this.varint32(n) : this.varint64(n >>> 0, Math.floor(n / TWO32));
    }
    const u = BigInt.asUintN(64, v);
    this.varint64(Number(u & 0xffffffffn), Number(u >> 32n));
  }

  bytes(v: Uint8Array): void {
    this.varint32(v.length);
    this.reserve(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  string(v: string): void {
    // At most 3 bytes per UTF-16 unit: written in place after a 1-byte length when that fits.
    if (v.length * 3 < 128) {
      this.reserve(1 + v.length * 3);
      const n = utf8.encodeInto(v, this.buf.subarray(this.pos + 1)).written;
      this.buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    this.bytes(utf8.encode(v));
  }
}

const utf8 = new TextEncoder();
let writer = new Writer();

/** A field's path in errors, built only when there is an error to report. */
function at(where: string, f: FieldInfo, i: number): string {
  return i < 0 ? `${where}.${f.name}` : `${where}.${f.name}[${i}]`;
}

// Plain comparisons, no destructuring: these run for every field of every entry, mostly before
// the JIT has warmed up, where an array pattern costs an iterator.
function checkInt32(f: FieldInfo, v: unknown, where: Where | string, i: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || (f.signed ? v < -0x80000000 || v > 0x7fffffff : v < 0 || v > 0xffffffff)) {
    bad(at(String(where), f, i), `${f.type} number`, v);
  }
  return v;
}

function checkInt64(f: FieldInfo, v: unknown, where: Where | string, i: number): bigint {
  if (typeof v !== 'bigint' || (f.signed ? v < INT64_MIN || v > INT64_MAX : v < 0n || v > UINT64_MAX)) {
    bad(at(String(where), f, i), `${f.type} bigint`, v);
  }
  return v;
}

/** Writes one value (without its tag); `where` names the message, `i` the index in a repeated field. */
type ValueWriter = (w: Writer, wf: WireField, v: unknown, where: Where, i: number) => void;

/** Where a value sits, for errors: kept as parts, made into a string only when one is thrown. */
class Where {
  readonly parent: Where | string;
  readonly f: FieldInfo | undefined;
  readonly i: number;

  constructor(parent: Where | string, f?: FieldInfo, i = -1) {
    this.parent = parent;
    this.f = f;
    this.i = i;
  }

  toString(): string {
    return this.f === undefined ? String(this.parent) : at(String(this.parent), this.f, this.i);
  }
}

const writeInt32: ValueWriter = (w, wf, v, where, i) => w.int32(checkInt32(wf.info, v, where, i));
const writeUint32: ValueWriter = (w, wf, v, where, i) => w.varint32(checkInt32(wf.info, v, where, i));
const writeSint32: ValueWriter = (w, wf, v, where, i) => {
  const n = checkInt32(wf.info, v, where, i);
  w.varint32(((n << 1) ^ (n >> 31)) >>> 0);
};
const writeFixed32: ValueWriter = (w, wf, v, where, i) => {
  const n = checkInt32(wf.info, v, where, i);
  w.reserve(4);
  w.view.setUint32(w.pos, n >>> 0, true);
  w.pos += 4;
};
const writeEnum: ValueWriter = (w, wf, v, where, i) => {
  // crit crashes on values its enum does not name, so refuse them here.
  if (typeof v !== 'number' || !wf.info.enumNames!.has(v)) bad(at(String(where), wf.info, i), `a ${wf.info.type} value`, v);
  w.int32(v);
};
const writeBool: ValueWriter = (w, wf, v, where, i) => {
  if (typeof v !== 'boolean') bad(at(String(where), wf.info, i), 'boolean', v);
  w.varint32(v ? 1 : 0);
};
// 64-bit values: checked and split as a number when they are below 2^53 in magnitude (addresses,
// sizes, -1: nearly all), since each bigint comparison or shift is a call into the runtime.
const writeVarint64: ValueWriter = (w, wf, v, where, i) => {
  const n = typeof v === 'bigint' ? Number(v) : NaN;
  if (Number.isSafeInteger(n) && (n >= 0 || wf.info.signed)) {
    // ToUint32 of a negative number is its two's complement, for both halves.
    if (n >= 0 && n < TWO32) w.varint32(n);
    else w.varint64(n >>> 0, Math.floor(n / TWO32) >>> 0);
    return;
  }
  w.bigVarint(checkInt64(wf.info, v, where, i));
};
const writeSint64: ValueWriter = (w, wf, v, where, i) => {
  const n = typeof v === 'bigint' ? Number(v) : NaN;
  if (Number.isSafeInteger(n) && Math.abs(n) < 2 ** 52) {
    const z = n >= 0 ? n * 2 : -n * 2 - 1;
    w.varint64(z >>> 0, Math.floor(z / TWO32));
    return;
  }
  const b = checkInt64(wf.info, v, where, i);
  w.bigVarint(BigInt.asUintN(64, (b << 1n) ^ (b >> 63n)));
};
const writeFixed64: ValueWriter = (w, wf, v, where, i) => {
  const n = checkInt64(wf.info, v, where, i);
  w.reserve(8);
  w.view.setBigUint64(w.pos, BigInt.asUintN(64, n), true);
  w.pos += 8;
};
const writeFloat: ValueWriter = (w, wf, v, where, i) => {
  if (typeof v !== 'number') bad(at(String(where), wf.info, i), 'number', v);
  w.reserve(8);
  if (wf.code === Code.FLOAT) {
    w.view.setFloat32(w.pos, v, true);
    w.pos += 4;
  } else {
    w.view.setFloat64(w.pos, v, true);
    w.pos += 8;
  }
};
const writeString: ValueWriter = (w, wf, v, where, i) => {
  if (typeof v !== 'string') bad(at(String(where), wf.info, i), 'string', v);
  w.string(v);
};
const writeBytes: ValueWriter = (w, wf, v, where, i) => {
  if (!(v instanceof Uint8Array)) bad(at(String(where), wf.info, i), 'Buffer/Uint8Array', v);
  w.bytes(v);
};
const writeNested: ValueWriter = (w, wf, v, where, i) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) bad(at(String(where), wf.info, i), wf.info.type, v);
  // The body goes 5 bytes on (the longest length varint), then moves up to its length.
  w.reserve(5);
  const lenAt = w.pos;
  w.pos += 5;
  writeMessage(w, wf.message!, v as Entry, new Where(where, wf.info, i));
  const len = w.pos - lenAt - 5;
  w.pos = lenAt;
  w.varint32(len);
  if (w.pos !== lenAt + 5) w.buf.copyWithin(w.pos, lenAt + 5, lenAt + 5 + len);
  w.pos += len;
};

const WRITERS: Readonly<Record<Code, ValueWriter>> = {
  [Code.INT32]: writeInt32,
  [Code.UINT32]: writeUint32,
  [Code.SINT32]: writeSint32,
  [Code.FIXED32]: writeFixed32,
  [Code.SFIXED32]: writeFixed32,
  [Code.ENUM]: writeEnum,
  [Code.BOOL]: writeBool,
  [Code.INT64]: writeVarint64,
  [Code.UINT64]: writeVarint64,
  [Code.SINT64]: writeSint64,
  [Code.FIXED64]: writeFixed64,
  [Code.SFIXED64]: writeFixed64,
  [Code.FLOAT]: writeFloat,
  [Code.DOUBLE]: writeFloat,
  [Code.STRING]: writeString,
  [Code.BYTES]: writeBytes,
  [Code.MESSAGE]: writeNested,
};

function writeMessage(w: Writer, msg: WireMessage, obj: Entry, where: Where | string): void {
  const { info } = msg;
  for (const key in obj) {
    if (obj[key] !== undefined && !info.byName.has(key)) throw new InternalError(`cannot encode ${String(where)}: ${info.name} has no field ${key}`);
  }
  const fields = msg.fields;
  for (let k = 0; k < fields.length; k++) {
    const wf = fields[k]!;
    const f = wf.info;
    const v = obj[f.name];
    if (v === undefined) {
      if (f.rule === 'required') throw new InternalError(`cannot encode ${String(where)}: required ${info.name}.${f.name} is missing`);
      continue;
    }
    if (f.rule !== 'repeated') {
      w.varint32(wf.tag);
      wf.write(w, wf, v, where as Where, -1);
      continue;
    }
    if (!Array.isArray(v)) bad(at(String(where), f, -1), `array of ${f.type}`, v);
    if (wf.packed) {
      if (v.length === 0) continue;
      w.varint32(f.id * 8 + WIRE.LEN);
      const inner: Writer = new Writer();
      v.forEach((x, i) => wf.write(inner, wf, x, where as Where, i));
      w.bytes(inner.buf.subarray(0, inner.pos));
      continue;
    }
    for (let i = 0; i < v.length; i++) {
      w.varint32(wf.tag);
      wf.write(w, wf, v[i], where as Where, i);
    }
  }
}

/** Encodes one message; `what` names it in errors (e.g. 'core-1.img entry 0'). */
export function encodeMessage(type: string, obj: object, what: string = type): Uint8Array {
  const msg = wireMessage(type);
  const w = writer;
  w.pos = 0;
  try {
    writeMessage(w, msg, obj as Entry, what);
    return w.buf.slice(0, w.pos);
  } finally {
    // Don't keep a huge buffer around after one big message.
    if (w.buf.length > 16 * 1024 * 1024) writer = new Writer();
  }
}

// ---- decode -------------------------------------------------------------------------------

class WireError extends Error {}

/** Reads the wire format from a byte array; every read checks the end. */
class Reader {
  readonly buf: Buffer;
  pos: number;
  end: number;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.end = bytes.length;
  }

  need(n: number): void {
    if (this.pos + n > this.end) throw new WireError(`index out of range: ${this.pos} + ${n} > ${this.end}`);
  }

  byte(): number {
    if (this.pos >= this.end) throw new WireError(`index out of range: ${this.pos} + 1 > ${this.end}`);
    return this.buf[this.pos++]!;
  }

  /** The low 32 bits of a varint, as an unsigned number. */
  varint32(): number {
    let b = this.byte();
    let v = b & 127;
    if (b < 128) return v;
    b = this.byte();
    v |= (b & 127) << 7;
    if (b < 128) return v;
    b = this.byte();
    v |= (b & 127) << 14;
    if (b < 128) return v;
    b = this.byte();
    v |= (b & 127) << 21;
    if (b < 128) return v;
    b = this.byte();
    v = (v | ((b & 15) << 28)) >>> 0;
    // The rest (up to 10 bytes in all) carries bits past 32: read and drop them.
    for (let i = 0; b >= 128; i++) {
      if (i === 5) throw new WireError('invalid varint encoding');
      b = this.byte();
    }
    return v;
  }

  /** A 64-bit varint as an unsigned bigint. */
  varint64(): bigint {
    let lo = 0;
    let b = 0;
    for (let i = 0; i < 4; i++) {
      b = this.byte();
      lo |= (b & 127) << (i * 7);
      if (b < 128) return BigInt(lo >>> 0);
    }
    b = this.byte();
    lo = (lo | ((b & 127) << 28)) >>> 0;
    let hi = (b & 127) >> 4;
    if (b >= 128) {
      for (let i = 0; ; i++) {
        if (i === 5) throw new WireError('invalid varint encoding');
        b = this.byte();
        hi |= (b & 127) << (i * 7 + 3);
        if (b < 128) break;
      }
    }
    hi >>>= 0;
    return hi < 0x200000 ? BigInt(hi * TWO32 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
  }

  skip(wt: number): void {
    switch (wt) {
      case WIRE.VARINT:
        while (this.byte() >= 128);
        return;
      case WIRE.I64:
        this.need(8);
        this.pos += 8;
        return;
      case WIRE.LEN: {
        const n = this.varint32();
        this.need(n);
        this.pos += n;
        return;
      }
      case WIRE.SGROUP:
        for (;;) {
          const tag = this.varint32();
          if ((tag & 7) === WIRE.EGROUP) return;
          this.skip(tag & 7);
        }
      case WIRE.I32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw new WireError(`invalid wire type ${wt} at offset ${this.pos}`);
    }
  }
}

function readValue(r: Reader, wf: WireField): unknown {
  switch (wf.code) {
    case Code.INT32:
    case Code.ENUM:
      return r.varint32() | 0;
    case Code.UINT32:
      return r.varint32();
    case Code.SINT32: {
      const n = r.varint32();
      return (n >>> 1) ^ -(n & 1);
    }
    case Code.FIXED32:
    case Code.SFIXED32: {
      r.need(4);
      const v = wf.code === Code.FIXED32 ? r.buf.readUInt32LE(r.pos) : r.buf.readInt32LE(r.pos);
      r.pos += 4;
      return v;
    }
    case Code.BOOL:
      return r.varint32() !== 0;
    case Code.UINT64:
      return r.varint64();
    case Code.INT64:
      return BigInt.asIntN(64, r.varint64());
    case Code.SINT64: {
      const u = r.varint64();
      return (u >> 1n) ^ -(u & 1n);
    }
    case Code.FIXED64:
    case Code.SFIXED64: {
      r.need(8);
      const v = wf.code === Code.FIXED64 ? r.buf.readBigUInt64LE(r.pos) : r.buf.readBigInt64LE(r.pos);
      r.pos += 8;
      return v;
    }
    case Code.FLOAT:
    case Code.DOUBLE: {
      const n = wf.code === Code.FLOAT ? 4 : 8;
      r.need(n);
      const v = n === 4 ? r.buf.readFloatLE(r.pos) : r.buf.readDoubleLE(r.pos);
      r.pos += n;
      return v;
    }
    case Code.STRING: {
      const n = r.varint32();
      r.need(n);
      const s = r.buf.toString('utf8', r.pos, r.pos + n);
      r.pos += n;
      return s;
    }
    case Code.BYTES: {
      const n = r.varint32();
      r.need(n);
      const b = Buffer.from(r.buf.subarray(r.pos, r.pos + n)); // a copy: don't pin the whole image buffer
      r.pos += n;
      return b;
    }
    case Code.MESSAGE: {
      const n = r.varint32();
      r.need(n);
      const end = r.end;
      r.end = r.pos + n;
      const v = readMessage(r, wf.message!);
      r.end = end;
      return v;
    }
  }
}

/** Reads fields up to r.end; the object's keys come out in field-number order. */
function readMessage(r: Reader, msg: WireMessage): Entry {
  const out: Entry = {};
  let lastId = 0;
  let ordered = true;
  while (r.pos < r.end) {
    const tag = r.varint32();
    const id = tag >>> 3;
    const wt = tag & 7;
    const wf = msg.byId.get(id);
    if (wf === undefined) {
      if (id === 0) throw new WireError(`invalid field number 0 at offset ${r.pos}`);
      r.skip(wt);
      continue;
    }
    if (id < lastId) ordered = false;
    lastId = id;
    const name = wf.info.name;
    if (wf.info.rule !== 'repeated') {
      if (wt !== wf.wt) throw new WireError(`${name}: wire type ${wt}, expected ${wf.wt}`);
      out[name] = readValue(r, wf);
      continue;
    }
    const arr = (out[name] ??= []) as unknown[];
    if (wt === wf.wt) arr.push(readValue(r, wf));
    else if (wt === WIRE.LEN && wf.wt !== WIRE.LEN) {
      // Packed repeated scalars.
      const n = r.varint32();
      r.need(n);
      const end = r.end;
      r.end = r.pos + n;
      while (r.pos < r.end) arr.push(readValue(r, wf));
      r.end = end;
      if (arr.length === 0) delete out[name];
    } else throw new WireError(`${name}: wire type ${wt}, expected ${wf.wt}`);
  }
  for (const wf of msg.required) {
    if (!Object.hasOwn(out, wf.info.name)) throw new WireError(`missing required '${wf.info.name}'`);
  }
  if (ordered) return out;
  const sorted: Entry = {};
  for (const wf of msg.fields) if (Object.hasOwn(out, wf.info.name)) sorted[wf.info.name] = out[wf.info.name];
  return sorted;
}

/** Decodes one message; `where` names the file and offset in errors. */
export function decodeMessage(type: string, bytes: Uint8Array, where: string): Entry {
  const msg = wireMessage(type);
  try {
    return readMessage(new Reader(bytes), msg);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    throw new ImageError(`${where}: bad ${type}: ${e.message}`, { cause: e });
  }
}
