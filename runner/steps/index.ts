// The step kinds. Keys are the kind keys of schemas/workflow.schema.json (a test checks it).
import { dumpStep } from './dump.ts';
import { preDumpStep } from './pre-dump.ts';
import { restoreStep } from './restore.ts';
import { runStep } from './run.ts';
import { transferStep } from './transfer.ts';
import type { StepKind } from './types.ts';

export const STEP_KINDS = {
  'pre-dump': preDumpStep,
  dump: dumpStep,
  transfer: transferStep,
  restore: restoreStep,
  run: runStep,
} as const satisfies Record<string, StepKind>;

export type StepKindName = keyof typeof STEP_KINDS;
export const STEP_KIND_NAMES = Object.keys(STEP_KINDS) as readonly StepKindName[];
export type { Outputs, StepContext, StepKind } from './types.ts';
