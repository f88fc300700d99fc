// `pre-dump`: memory only while the tree keeps running (CRIU pre-dump), to shorten a later dump.
import type { Value } from '../expr.ts';
import { planValue } from '../planned.ts';
import type { Planned } from '../types.ts';
import { asConfig, summarize } from './common.ts';
import { imagesDir, targetPid } from './dump.ts';
import type { Outputs, StepContext, StepKind } from './types.ts';

export const preDumpStep = {
  outputs: ['dir', 'pid', 'stats'],
  plan: (config: unknown): Planned => planValue(config ?? {}),
  summary: (p: Planned) => summarize(p),
  async run(config: Value, ctx: StepContext): Promise<Outputs> {
    const c = asConfig(config);
    const pid = await targetPid(c, ctx, 'pre-dump');
    const dir = imagesDir(c, ctx, 'pre-dump');
    const r = await ctx.engine.preDump({ pid, imagesDir: dir, hooks: ctx.hooks, signal: ctx.signal });
    return { dir: r.imagesDir, pid, stats: { ...r.stats } };
  },
} as const satisfies StepKind;
