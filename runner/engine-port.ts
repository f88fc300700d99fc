// The runner's one coupling point with the engine: what the steps call, in one interface, so
// the steps can be exercised with the real engine or (in pure tests) without touching it.
import * as engine from '../engine/index.ts';
import type { DumpOptions, DumpResult, PreDumpOptions, RestoreOptions, RestoredTree } from '../engine/index.ts';
import { packImages, unpackImages } from './archive.ts';

export type { DumpOptions, DumpResult, PreDumpOptions, RestoreOptions, RestoredTree };

export interface EnginePort {
  dump(opts: DumpOptions): Promise<DumpResult>;
  restore(opts: RestoreOptions): Promise<RestoredTree>;
  preDump(opts: PreDumpOptions): Promise<DumpResult>;
  /** Checks manifest.json (size + SHA-256 of every image, or of its pieces); throws ImageError naming the file. */
  verifyImages(dir: string): void | Promise<void>;
  packImages(dir: string, archive: string): Promise<void>;
  unpackImages(archive: string, dir: string): Promise<void>;
}

export function engineFunctions(): EnginePort {
  return { dump: engine.dump, restore: engine.restore, preDump: engine.preDump, verifyImages: engine.verifyImages, packImages, unpackImages };
}
