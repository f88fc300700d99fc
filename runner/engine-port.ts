// The runner's one coupling point with the engine. Functions the engine does not export yet are
// looked up at run time: dump/restore fail with a clear message until they land; the image
// manifest and archive helpers fall back to runner/archive.ts.
import * as engine from '../engine/index.ts';
import type { DumpOptions, DumpResult, RestoreOptions, RestoredTree } from '../engine/index.ts';
import { UnsupportedError } from '../errors.ts';
import { packImages, unpackImages, verifyImages } from './archive.ts';

export type { DumpOptions, DumpResult, RestoreOptions, RestoredTree };

/** CRIU pre-dump: memory only, the tree keeps running. Not in the engine contract yet. */
export interface PreDumpOptions {
  readonly pid: number;
  readonly imagesDir: string;
  readonly hooks?: DumpOptions['hooks'];
  readonly signal?: AbortSignal;
}

export interface EnginePort {
  dump(opts: DumpOptions): Promise<DumpResult>;
  restore(opts: RestoreOptions): Promise<RestoredTree>;
  preDump(opts: PreDumpOptions): Promise<DumpResult>;
  /** Checks manifest.json (size + sha256 of every image); throws ImageError naming the file. */
  verifyImages(dir: string): void | Promise<void>;
  packImages(dir: string, archive: string): Promise<void>;
  unpackImages(archive: string, dir: string): Promise<void>;
}

type Fn = (...args: never[]) => unknown;

function exported<F extends Fn>(name: string): F | undefined {
  const f = (engine as unknown as Record<string, unknown>)[name];
  return typeof f === 'function' ? (f as F) : undefined;
}

function missing(name: string): never {
  throw new UnsupportedError(`the engine does not provide ${name}() yet`, { hint: 'this build of cryo has no checkpoint engine for this step' });
}

export function engineFunctions(): EnginePort {
  return {
    dump: (o) => (exported<EnginePort['dump']>('dump') ?? (() => missing('dump')))(o),
    restore: (o) => (exported<EnginePort['restore']>('restore') ?? (() => missing('restore')))(o),
    preDump: (o) => (exported<EnginePort['preDump']>('preDump') ?? (() => missing('preDump')))(o),
    verifyImages: (d) => (exported<EnginePort['verifyImages']>('verifyImages') ?? verifyImages)(d),
    packImages: (d, a) => (exported<EnginePort['packImages']>('packImages') ?? packImages)(d, a),
    unpackImages: (a, d) => (exported<EnginePort['unpackImages']>('unpackImages') ?? unpackImages)(a, d),
  };
}
