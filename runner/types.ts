// The workflow as the schema admits it (Raw*) and as the runner uses it after normalize.ts.
import type { HookName } from '../engine/index.ts';
import type { Pos } from './load.ts';
import type { Template } from './expr.ts';

export type Scalar = string | number | boolean;

export interface RawInput {
  readonly type?: 'string' | 'integer' | 'number' | 'boolean';
  readonly required?: boolean;
  readonly default?: Scalar;
  readonly description?: string;
}

/** One step as written: common keys plus exactly one kind key. */
export interface RawStep {
  readonly id?: string;
  readonly name?: string;
  readonly if?: string | boolean;
  readonly env?: Readonly<Record<string, Scalar>>;
  readonly timeout?: string;
  readonly retry?: { readonly limit?: number; readonly delay?: string };
  readonly 'continue-on-error'?: boolean | string;
  readonly shell?: string;
  readonly 'working-directory'?: string;
  readonly [kind: string]: unknown;
}

export interface RawWorkflow {
  readonly version: 1;
  readonly name?: string;
  readonly description?: string;
  readonly inputs?: Readonly<Record<string, RawInput>>;
  readonly vars?: Readonly<Record<string, Scalar>>;
  readonly env?: Readonly<Record<string, Scalar>>;
  readonly hooks?: Readonly<Partial<Record<HookName, string | readonly string[]>>>;
  readonly steps: readonly RawStep[];
  readonly finally?: readonly RawStep[];
  readonly schedule?: Readonly<Record<string, unknown>>;
}

/**
 * A value of a step's configuration after planning: literals stay as they are, strings holding
 * `${{ }}` become templates, evaluated when the step runs.
 */
export type Planned = Scalar | null | { readonly template: Template } | readonly Planned[] | { readonly [k: string]: Planned };

export type Section = 'steps' | 'finally';

export interface Step {
  readonly section: Section;
  readonly index: number;
  /** JSON pointer of the step in the file, e.g. /steps/2. */
  readonly pointer: string;
  readonly at: Pos;
  /** The user's id, or a generated `_N` that expressions cannot name. */
  readonly id: string;
  readonly userId: boolean;
  readonly name: string;
  readonly kind: string;
  /** The kind's own block (`dump: {…}`; for `run`, `{ script, shell, working-directory }`). */
  readonly config: unknown;
  readonly if: string | boolean | undefined;
  readonly env: Readonly<Record<string, Scalar>>;
  readonly timeoutMs: number | undefined;
  readonly retry: { readonly limit: number; readonly delayMs: number };
  readonly continueOnError: boolean | string;
}

export interface InputSpec {
  readonly type: 'string' | 'integer' | 'number' | 'boolean';
  readonly required: boolean;
  readonly default: Scalar | undefined;
  readonly description: string;
  /** Where the input is declared, for errors about its value. */
  readonly at: Pos;
}

export interface Workflow {
  readonly file: string;
  /** The source text, for code frames in errors found after validation. */
  readonly text: string;
  /** Where `inputs:` is (or the top of the file). */
  readonly inputsAt: Pos;
  readonly dir: string;
  readonly name: string;
  readonly description: string;
  readonly inputs: Readonly<Record<string, InputSpec>>;
  readonly vars: Readonly<Record<string, Scalar>>;
  readonly env: Readonly<Record<string, Scalar>>;
  readonly hooks: Readonly<Partial<Record<HookName, readonly string[]>>>;
  readonly steps: readonly Step[];
  readonly finally: readonly Step[];
  readonly schedule: Readonly<Record<string, unknown>> | undefined;
}
