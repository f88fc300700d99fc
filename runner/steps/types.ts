// What a step kind is: how it plans (pure) and how it runs (the side effects).
import type { ActionHook } from '../../engine/index.ts';
import type { Children } from '../../engine/index.ts';
import type { EnginePort } from '../engine-port.ts';
import type { Value } from '../expr.ts';
import type { Planned } from '../types.ts';

export type Outputs = Record<string, Value>;

export interface StepContext {
  readonly id: string;
  /** Relative paths in the workflow resolve against the workflow file's directory. */
  readonly workflowDir: string;
  /** Complete environment for processes: cryo's, the workflow's, the step's. */
  readonly env: Readonly<Record<string, string>>;
  /** Aborted on Ctrl-C or when the step's timeout expires. */
  readonly signal: AbortSignal;
  readonly hooks: ActionHook | undefined;
  readonly engine: EnginePort;
  /** Processes this run started or restored (not libuv children): reaped by pid at the end. */
  readonly children: Children;
  /** Scratch directory of this run (removed at the end). */
  readonly tmpDir: string;
  /** Outputs known so far, kept even if the step then fails or is cancelled. */
  partial(outputs: Outputs): void;
  /** Transient progress ("pages 1200/3400"): shown on the spinner line of a terminal, not logged. */
  progress(text: string): void;
  log(stream: 'stdout' | 'stderr' | 'info', line: string): void;
}

export interface StepKind {
  /** Output keys the kind always sets (checked in references); undefined: any key (run). */
  readonly outputs: readonly string[] | undefined;
  /** Pure: the kind's block as written → planned configuration. */
  plan(config: unknown): Planned;
  /** One line for progress output and `cryo plan`. */
  summary(config: Planned): string;
  run(config: Value, ctx: StepContext): Promise<Outputs>;
}
