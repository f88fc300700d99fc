// schemas/criu/*.proto → a plain JSON table of messages and enums (what codec.ts needs to encode
// and decode), so that a dump or restore does not parse ~45 .proto files with protobufjs at
// every start (that cost 100–200 ms). `npm run build` writes the table to dist/schemas/criu.json
// (`node dist/engine/images/schema-table.js`); codec.ts uses it when its digest matches the
// .proto files and otherwise builds it here, at run time.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Protobuf from 'protobufjs';
import { InternalError } from '../../errors.ts';

export interface FieldRow {
  readonly name: string;
  readonly id: number;
  readonly rule: 'required' | 'optional' | 'repeated';
  /** As written in the .proto: 'uint64', 'bytes', 'vma_entry', 'fd_types' … */
  readonly type: string;
  /** Full name of the message or enum type, for message and enum fields. */
  readonly message?: string;
  readonly enum?: string;
  readonly packed?: boolean;
  readonly hex?: boolean;
  readonly dict?: string;
  readonly conv?: string;
}

export interface SchemaTable {
  /** sha256 of the .proto files' names and contents: the table is stale when they change. */
  readonly digest: string;
  /** Full message name ('core_entry', 'outer.inner') → fields sorted by number. */
  readonly messages: Record<string, FieldRow[]>;
  readonly enums: Record<string, Record<string, number>>;
}

/**
 * The package root: the nearest directory above this module that holds package.json and
 * schemas/criu. Walking up works from the source, from dist/ and from the CLI bundle alike.
 */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'schemas', 'criu'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new InternalError(`schemas/criu not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** schemas/criu of this package. */
export function schemaDir(): string {
  return path.join(packageRoot(), 'schemas', 'criu');
}

/** Where `npm run build` puts the table: dist/schemas/criu.json. */
export function tableFile(): string {
  return path.join(packageRoot(), 'dist', 'schemas', 'criu.json');
}

function protoFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.proto')).sort();
}

export function schemaDigest(dir: string): string {
  const h = createHash('sha256');
  for (const f of protoFiles(dir)) h.update(`${f}\0`).update(fs.readFileSync(path.join(dir, f))).update('\0');
  return h.digest('hex');
}

/** Parses the .proto files with protobufjs (loaded only here) into a table. */
export function buildSchemaTable(dir: string = schemaDir()): SchemaTable {
  const require = createRequire(import.meta.url);
  const protobuf = require('protobufjs') as typeof Protobuf;
  // opts.proto extends google.protobuf.FieldOptions; protobufjs ships descriptor.proto.
  const descriptor = require.resolve('protobufjs/google/protobuf/descriptor.proto');
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) =>
    target === 'google/protobuf/descriptor.proto' ? descriptor : protobuf.util.path.resolve(origin, target);
  try {
    root.loadSync(protoFiles(dir).map((f) => path.join(dir, f)), { keepCase: true });
    root.resolveAll();
  } catch (e) {
    throw new InternalError(`cannot load ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const full = (t: Protobuf.ReflectionObject): string => t.fullName.replace(/^\./, '');
  const messages: Record<string, FieldRow[]> = {};
  const enums: Record<string, Record<string, number>> = {};
  const walk = (ns: Protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if (ns === root && o.name === 'google') continue; // descriptor.proto, loaded for opts.proto
      if (o instanceof protobuf.Type) {
        messages[full(o)] = [...o.fieldsArray]
          .map((f) => f.resolve())
          .sort((a, b) => a.id - b.id)
          .map((f): FieldRow => {
            const rt = f.resolvedType;
            const dict = f.getOption('(criu).dict') as string | undefined;
            const conv = f.getOption('(criu).conv') as string | undefined;
            return {
              name: f.name,
              id: f.id,
              rule: f.repeated ? 'repeated' : f.rule === 'required' ? 'required' : 'optional',
              type: f.type,
              ...(rt instanceof protobuf.Type ? { message: full(rt) } : {}),
              ...(rt instanceof protobuf.Enum ? { enum: full(rt) } : {}),
              ...(f.repeated && f.packed && rt === null ? { packed: true } : {}),
              ...(f.getOption('(criu).hex') === true ? { hex: true } : {}),
              ...(dict === undefined ? {} : { dict }),
              ...(conv === undefined ? {} : { conv }),
            };
          });
      }
      if (o instanceof protobuf.Enum) enums[full(o)] = { ...o.values };
      if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) walk(o);
    }
  };
  walk(root);
  return { digest: schemaDigest(dir), messages, enums };
}

/** The table of dist/schemas/criu.json when it matches the .proto files, else undefined. */
export function readSchemaTable(dir: string, file: string = tableFile()): SchemaTable | undefined {
  let table: SchemaTable;
  try {
    table = JSON.parse(fs.readFileSync(file, 'utf8')) as SchemaTable;
  } catch {
    return undefined;
  }
  return table.digest === schemaDigest(dir) ? table : undefined;
}

export function writeSchemaTable(file: string = tableFile()): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(buildSchemaTable())}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) writeSchemaTable();
