// crit's JSON rendering of a decoded image (`crit decode [--pretty]`), byte for byte where the
// schemas agree: {"magic": NAME, "entries": [...]}, set fields in field-number order, enums by
// name, bytes and payloads ("extra") as Python's base64.encodebytes, integers printed exactly,
// Python json.dump spacing and ASCII escaping. --pretty adds indent 4, 0x… for (criu).hex fields
// and the task_state names; crit's flag and device renderings are not reproduced.

import { messageInfo } from './codec.ts';
import type { Entry, FieldInfo } from './codec.ts';
import type { DecodedImage } from './image-file.ts';
import { entryMessage } from './image-file.ts';
import { IMAGE_KINDS } from './kinds.ts';

/** A JSON value that keeps integers exact: bigint and number both print as digits. */
type Json = null | boolean | number | bigint | string | Json[] | JsonObject;
interface JsonObject {
  readonly [key: string]: Json;
}

// crit's (criu).dict tables; "gen" is task_state. crit's numbers differ from CRIU's C values
// (C: 2 = dead, 3 = stopped); we print what crit prints.
const DICTS: Readonly<Record<string, Readonly<Record<string, Readonly<Record<number, string>>>>>> = {
  gen: { task_state: { 1: 'Alive', 3: 'Zombie', 6: 'Stopped' } },
  sk: {
    type: { 1: 'STREAM', 2: 'DGRAM', 3: 'RAW', 5: 'SEQPACKET', 10: 'PACKET' },
    state: { 1: 'ESTABLISHED', 2: 'SYN_SENT', 3: 'SYN_RECV', 4: 'FIN_WAIT1', 5: 'FIN_WAIT2', 6: 'TIME_WAIT', 7: 'CLOSE', 8: 'CLOSE_WAIT', 9: 'LAST_ACK', 10: 'LISTEN' },
  },
};

/**
 * crit's unix_name: Python's quopri.encodestring (binascii.b2a_qp, text mode): printable ASCII as
 * is, other bytes and '=' as =XX, whitespace before a line end or at the end encoded, soft line
 * breaks ("=\n") keeping lines under 76 characters.
 */
export function quotedPrintable(data: Uint8Array): string {
  const MAX = 76;
  const nl = data.indexOf(0x0a);
  const crlf = nl > 0 && data[nl - 1] === 0x0d;
  const eol = crlf ? '\r\n' : '\n';
  const hex = (c: number): string => `=${c.toString(16).toUpperCase().padStart(2, '0')}`;
  let out = '';
  let line = 0;
  for (let i = 0; i < data.length; ) {
    const c = data[i]!;
    const next = data[i + 1];
    const last = i + 1 === data.length;
    const encode =
      c > 126 || c === 0x3d ||
      (c === 0x2e && line === 0 && (last || next === 0x0a || next === 0x0d || next === 0)) ||
      ((c === 0x09 || c === 0x20) && last) ||
      (c < 33 && c !== 0x0d && c !== 0x0a && c !== 0x09 && c !== 0x20);
    if (encode) {
      if (line + 3 >= MAX) {
        out += `=${eol}`;
        line = 0;
      }
      out += hex(c);
      line += 3;
      i++;
    } else if (c === 0x0a || (c === 0x0d && next === 0x0a)) {
      line = 0;
      const prev = out.charCodeAt(out.length - 1);
      if (out.length && (prev === 0x20 || prev === 0x09)) out = out.slice(0, -1) + hex(prev);
      out += eol;
      i += c === 0x0d ? 2 : 1;
    } else {
      if (!last && next !== 0x0a && line + 1 >= MAX) {
        out += `=${eol}`;
        line = 0;
      }
      line++;
      out += String.fromCharCode(c);
      i++;
    }
  }
  return out;
}

/** Python's base64.encodebytes: 76-character lines, each ending in "\n" ("" for no bytes). */
export function encodeBytesBase64(buf: Uint8Array): string {
  const b64 = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('base64');
  let out = '';
  for (let i = 0; i < b64.length; i += 76) out += `${b64.slice(i, i + 76)}\n`;
  return out;
}

function valueToJson(f: FieldInfo, v: unknown, pretty: boolean, hex: boolean): Json {
  switch (f.kind) {
    case 'message':
      return messageToJson(f.message!, v as Entry, pretty, hex);
    case 'bytes':
      return f.conv === 'unix_name' ? quotedPrintable(v as Uint8Array) : encodeBytesBase64(v as Uint8Array);
    case 'enum': {
      const n = v as number;
      return f.enumNames!.get(n) ?? n;
    }
    case 'int32':
    case 'int64': {
      const n = v as number | bigint;
      if (!pretty) return n;
      if (hex) return `0x${n.toString(16)}`;
      const name = f.dict === undefined ? undefined : DICTS[f.dict]?.[f.name]?.[Number(n)];
      return name ?? n;
    }
    default:
      return v as Json;
  }
}

function messageToJson(type: string, entry: Entry, pretty: boolean, hexParent: boolean): JsonObject {
  const out: Record<string, Json> = {};
  for (const f of messageInfo(type).fields) {
    const v = entry[f.name];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    const hex = hexParent || f.hex; // crit passes the hex mark down into nested messages
    out[f.name] = Array.isArray(v) ? v.map((x) => valueToJson(f, x, pretty, hex)) : valueToJson(f, v, pretty, hex);
  }
  return out;
}

/** Python json's string escaping with ensure_ascii (the default). */
function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`; // UTF-16 units, like Python
    else out += ch;
  }
  return `${out}"`;
}

/** Python json.dump layout: ", " and ": " inline; with indent, one item per line. */
function pyDump(v: Json, indent: number | undefined, depth: number): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return pyString(v);
  const isArray = Array.isArray(v);
  const items = isArray
    ? (v as Json[]).map((x) => pyDump(x, indent, depth + 1))
    : Object.entries(v).map(([k, x]) => `${pyString(k)}: ${pyDump(x, indent, depth + 1)}`);
  const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
  if (items.length === 0) return open + close;
  if (indent === undefined) return open + items.join(', ') + close;
  const inner = '\n' + ' '.repeat(indent * (depth + 1));
  return open + inner + items.join(',' + inner) + '\n' + ' '.repeat(indent * depth) + close;
}

/** crit splits a TCP stream's payload into its two queues; every other payload is one base64 string. */
function critExtra(magic: string, entry: Record<string, unknown>, payload: Uint8Array): Json {
  if (magic !== 'TCP_STREAM') return encodeBytesBase64(payload);
  const inq = Number(entry['inq_len'] ?? 0);
  return { inq: encodeBytesBase64(payload.subarray(0, inq)), outq: encodeBytesBase64(payload.subarray(inq)) };
}

/** crit's JSON for a decoded image (without the trailing newline crit adds on stdout). */
export function toCritJson(decoded: DecodedImage, opts: { pretty?: boolean } = {}): string {
  const pretty = opts.pretty === true;
  const kind = IMAGE_KINDS[decoded.magic];
  const entries = decoded.entries.map((entry, i): JsonObject => {
    const obj: Record<string, Json> = { ...messageToJson(entryMessage(kind, i), entry, pretty, false) };
    const payload = decoded.payloads?.[i];
    if (payload !== undefined) obj['extra'] = critExtra(decoded.magic, entry, payload);
    return obj;
  });
  return pyDump({ magic: decoded.magic, entries }, pretty ? 4 : undefined, 0);
}
