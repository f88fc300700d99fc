// protobuf messages ⇄ plain JS objects, with the schemas in schemas/criu loaded at run time.
// The conversion rules live here and only here:
//   64-bit integers → bigint; 32-bit integers and enums → number; bool → boolean; string → string;
//   bytes → Buffer; nested messages → plain objects; repeated → arrays.
// Decoded objects hold only the fields present on the wire, in field-number order (like crit).
// Encoding writes required fields always (even 0), optional ones only when present in the
// object, repeated scalars unpacked (proto2 default; CRIU never packs). protobufjs' Long never
// leaves this module.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { ImageError, InternalError } from '../../errors.ts';

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

const KIND_OF_TYPE: Readonly<Record<string, { kind: FieldKind; signed: boolean; bits?: 32 | 64 }>> = {
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

interface Schema {
  readonly root: protobuf.Root;
  readonly infos: Map<string, MessageInfo>;
}

let schema: Schema | undefined;

/** schemas/criu of this package: walk up from this module (source or dist/) to the package root. */
export function schemaDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'schemas', 'criu');
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) throw new InternalError(`schemas/criu not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

function loadSchema(): Schema {
  if (schema !== undefined) return schema;
  const dir = schemaDir();
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.proto')).sort().map((f) => path.join(dir, f));
  // opts.proto extends google.protobuf.FieldOptions; protobufjs ships descriptor.proto.
  const descriptor = createRequire(import.meta.url).resolve('protobufjs/google/protobuf/descriptor.proto');
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) =>
    target === 'google/protobuf/descriptor.proto' ? descriptor : protobuf.util.path.resolve(origin, target);
  try {
    root.loadSync(files, { keepCase: true });
    root.resolveAll();
  } catch (e) {
    throw new InternalError(`cannot load ${dir}: ${(e as Error).message}`, { cause: e });
  }
  schema = { root, infos: new Map() };
  return schema;
}

function lookupType(name: string): protobuf.Type {
  const found = loadSchema().root.lookup(name);
  if (!(found instanceof protobuf.Type)) throw new InternalError(`no message ${name} in schemas/criu`);
  return found;
}

/** Is this message defined in schemas/criu? */
export function hasMessage(name: string): boolean {
  return loadSchema().root.lookup(name) instanceof protobuf.Type;
}

function typeName(t: protobuf.ReflectionObject): string {
  return t.fullName.replace(/^\./, '');
}

/** Names of all messages in schemas/criu (nested ones as 'outer.inner'). */
export function listMessages(): string[] {
  const { root } = loadSchema();
  const out: string[] = [];
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if (ns === root && o.name === 'google') continue; // descriptor.proto, loaded for opts.proto
      if (o instanceof protobuf.Type) out.push(typeName(o));
      if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) walk(o);
    }
  };
  walk(root);
  return out.sort();
}

export function messageInfo(name: string): MessageInfo {
  const { infos } = loadSchema();
  const cached = infos.get(name);
  if (cached !== undefined) return cached;
  const type = lookupType(name);
  const fields = type.fieldsArray
    .map((f) => f.resolve())
    .sort((a, b) => a.id - b.id)
    .map((f): FieldInfo => {
      const rule = f.repeated ? 'repeated' : f.rule === 'required' ? 'required' : 'optional';
      const base = { name: f.name, id: f.id, rule, type: f.type, hex: f.getOption('(criu).hex') === true } as const;
      const dict = f.getOption('(criu).dict') as string | undefined;
      const conv = f.getOption('(criu).conv') as string | undefined;
      const withDict = { ...base, ...(dict === undefined ? {} : { dict }), ...(conv === undefined ? {} : { conv }) };
      const rt = f.resolvedType;
      if (rt instanceof protobuf.Type) return { ...withDict, kind: 'message', signed: false, message: typeName(rt) };
      if (rt instanceof protobuf.Enum) {
        const enumNames = new Map(Object.entries(rt.values).map(([k, v]) => [v, k]));
        return { ...withDict, kind: 'enum', signed: true, enumNames };
      }
      const scalar = KIND_OF_TYPE[f.type];
      if (scalar === undefined) throw new InternalError(`${name}.${f.name}: unsupported type ${f.type}`);
      return { ...withDict, kind: scalar.kind, signed: scalar.signed };
    });
  const info: MessageInfo = { name: typeName(type), fields, byName: new Map(fields.map((f) => [f.name, f])) };
  infos.set(name, info);
  return info;
}

/** Values of a schema enum by name, e.g. `protoEnum('fd_types').REG === 1`. */
export function protoEnum(name: string): Readonly<Record<string, number>> {
  const found = loadSchema().root.lookup(name);
  if (!(found instanceof protobuf.Enum)) throw new InternalError(`no enum ${name} in schemas/criu`);
  return found.values;
}

// ---- encode -------------------------------------------------------------------------------

const INT32 = { signed: [-(2 ** 31), 2 ** 31 - 1], unsigned: [0, 2 ** 32 - 1] } as const;
const INT64 = { signed: [-(2n ** 63n), 2n ** 63n - 1n], unsigned: [0n, 2n ** 64n - 1n] } as const;

function bad(where: string, what: string, value: unknown): never {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'object' ? 'an object' : JSON.stringify(value);
  throw new InternalError(`cannot encode ${where}: expected ${what}, got ${shown}`);
}

function scalarToWire(f: FieldInfo, v: unknown, where: string): unknown {
  switch (f.kind) {
    case 'int32': {
      const [lo, hi] = f.signed ? INT32.signed : INT32.unsigned;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) bad(where, `${f.type} number`, v);
      return v;
    }
    case 'int64': {
      const [lo, hi] = f.signed ? INT64.signed : INT64.unsigned;
      if (typeof v !== 'bigint' || v < lo || v > hi) bad(where, `${f.type} bigint`, v);
      // protobufjs writes {low, high} 32-bit halves; two's complement covers signed values.
      const u = BigInt.asUintN(64, v);
      return { low: Number(BigInt.asUintN(32, u)), high: Number(u >> 32n) };
    }
    case 'bool':
      if (typeof v !== 'boolean') bad(where, 'boolean', v);
      return v;
    case 'string':
      if (typeof v !== 'string') bad(where, 'string', v);
      return v;
    case 'bytes':
      if (!(v instanceof Uint8Array)) bad(where, 'Buffer/Uint8Array', v);
      return v;
    case 'float':
      if (typeof v !== 'number') bad(where, 'number', v);
      return v;
    case 'enum':
      // crit crashes on values its enum does not name, so refuse them here.
      if (typeof v !== 'number' || !f.enumNames!.has(v)) bad(where, `a ${f.type} value`, v);
      return v;
    case 'message':
      if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) bad(where, f.type, v);
      return toWire(messageInfo(f.message!), v as Entry, where);
  }
}

function toWire(info: MessageInfo, obj: Entry, where: string): Entry {
  for (const key of Object.keys(obj)) {
    if (!info.byName.has(key) && obj[key] !== undefined) throw new InternalError(`cannot encode ${where}: ${info.name} has no field ${key}`);
  }
  const out: Entry = {};
  for (const f of info.fields) {
    const v = obj[f.name];
    const at = `${where}.${f.name}`;
    if (v === undefined) {
      if (f.rule === 'required') throw new InternalError(`cannot encode ${where}: required ${info.name}.${f.name} is missing`);
      continue;
    }
    if (f.rule === 'repeated') {
      if (!Array.isArray(v)) bad(at, `array of ${f.type}`, v);
      out[f.name] = v.map((x, i) => scalarToWire(f, x, `${at}[${i}]`));
    } else {
      out[f.name] = scalarToWire(f, v, at);
    }
  }
  return out;
}

/** Encodes one message; `what` names it in errors (e.g. 'core-1.img entry 0'). */
export function encodeMessage(type: string, obj: object, what: string = type): Uint8Array {
  const wire = toWire(messageInfo(type), obj as Entry, what);
  return lookupType(type).encode(wire).finish();
}

// ---- decode -------------------------------------------------------------------------------

interface LongLike {
  readonly low: number;
  readonly high: number;
}

function scalarFromWire(f: FieldInfo, v: unknown): unknown {
  switch (f.kind) {
    case 'int64': {
      if (typeof v === 'number') return BigInt(v);
      const l = v as LongLike;
      // `>>> 0` reads each 32-bit half as unsigned; the 64-bit value is assembled in bigint.
      const u = (BigInt(l.high >>> 0) << 32n) + BigInt(l.low >>> 0);
      return f.signed ? BigInt.asIntN(64, u) : u;
    }
    case 'bytes':
      return Buffer.from(v as Uint8Array); // a copy: don't pin the whole image buffer
    case 'message':
      return fromWire(messageInfo(f.message!), v as Entry);
    default:
      return v;
  }
}

function fromWire(info: MessageInfo, msg: Entry): Entry {
  const out: Entry = {};
  for (const f of info.fields) {
    // protobufjs sets own properties only for fields read from the wire (defaults live on the prototype).
    if (!Object.hasOwn(msg, f.name)) continue;
    const v = msg[f.name];
    if (f.rule === 'repeated') {
      const arr = v as unknown[];
      if (arr.length > 0) out[f.name] = arr.map((x) => scalarFromWire(f, x));
    } else if (v !== null && v !== undefined) {
      out[f.name] = scalarFromWire(f, v);
    }
  }
  return out;
}

/** Decodes one message; `where` names the file and offset in errors. */
export function decodeMessage(type: string, bytes: Uint8Array, where: string): Entry {
  const t = lookupType(type);
  let msg: Entry;
  try {
    msg = t.decode(bytes) as unknown as Entry;
  } catch (e) {
    throw new ImageError(`${where}: bad ${type}: ${(e as Error).message}`, { cause: e });
  }
  return fromWire(messageInfo(type), msg);
}
