// `transfer`: images between a directory and an archive (either side), verified against the
// manifest on arrival: a corrupted copy fails the step instead of being restored later.
// Only `mode: copy` exists; remote modes (rsync, page-server, lazy, stream) plug in here.
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StepError } from '../errors.ts';
import { isArchivePath } from '../archive.ts';
import { readImagesManifest } from '../../engine/index.ts';
import type { Value } from '../expr.ts';
import { planValue } from '../planned.ts';
import type { Planned } from '../types.ts';
import { asConfig, path, str, summarize } from './common.ts';
import type { Outputs, StepContext, StepKind } from './types.ts';
import type { EnginePort } from '../engine-port.ts';

function isArchive(p: string): boolean {
  return isArchivePath(p) || (existsSync(p) && statSync(p).isFile());
}

/** An archive is good when it unpacks and what comes out matches its manifest. */
export async function verifyArchive(engine: EnginePort, archive: string, scratch: string): Promise<string> {
  const dir = mkdtempSync(join(scratch, 'unpack-'));
  await engine.unpackImages(archive, dir);
  await engine.verifyImages(dir);
  return dir;
}

function manifestBytes(dir: string): number {
  return Object.values(readImagesManifest(dir).files).reduce((n, f) => n + f.size, 0);
}

export const transferStep = {
  outputs: ['dir', 'archive', 'bytes', 'from', 'to'],
  plan: (config: unknown): Planned => planValue(config),
  summary: (p: Planned) => summarize(p, ['from', 'to', 'mode']),
  async run(config: Value, ctx: StepContext): Promise<Outputs> {
    const c = asConfig(config);
    const mode = str(c, 'mode') ?? 'copy';
    if (mode !== 'copy') throw new StepError(`transfer.mode: "${mode}" is not supported yet (expected "copy")`);
    const from = path(ctx.workflowDir, str(c, 'from') ?? '');
    const to = path(ctx.workflowDir, str(c, 'to') ?? '');
    if (!existsSync(from)) throw new StepError(`transfer.from: ${from} does not exist`);
    if (from === to) throw new StepError(`transfer: from and to are the same path (${from})`);
    const { engine } = ctx;
    if (isArchive(from)) {
      if (isArchivePath(to)) {
        copyFileSync(from, to);
        rmSync(await verifyArchive(engine, to, ctx.tmpDir), { recursive: true, force: true });
        return { archive: to, bytes: statSync(to).size, from, to };
      }
      await engine.unpackImages(from, to);
      await engine.verifyImages(to);
      return { dir: to, bytes: manifestBytes(to), from, to };
    }
    // Never ship images that are already damaged.
    await engine.verifyImages(from);
    if (isArchivePath(to)) {
      await engine.packImages(from, to);
      rmSync(await verifyArchive(engine, to, ctx.tmpDir), { recursive: true, force: true });
      ctx.log('info', `packed ${from} into ${to} and verified it`);
      return { archive: to, bytes: statSync(to).size, from, to };
    }
    if (existsSync(to) && readdirSync(to).length) throw new StepError(`transfer.to: ${to} is not empty`);
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
    await engine.verifyImages(to);
    return { dir: to, bytes: manifestBytes(to), from, to };
  },
} as const satisfies StepKind;
