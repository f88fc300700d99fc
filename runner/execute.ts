// The only phase with side effects: runs planned steps in order, then `finally`, reporting every
// moment as an event. Status functions follow GitHub Actions: success() until a step fails (not
// continue-on-error), failure() after, cancelled() after Ctrl-C; `finally` steps run regardless.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ActionHook, HookName } from '../engine/index.ts';
import { combineHooks } from '../engine/index.ts';
import { RuntimeError } from '../errors.ts';
import { Children } from '../engine/index.ts';
import { engineFunctions } from './engine-port.ts';
import type { EnginePort } from './engine-port.ts';
import { formatDuration } from './duration.ts';
import { StepError } from './errors.ts';
import { evaluate, stringify, truthy } from './expr.ts';
import type { EvalContext, StepState, Value } from './expr.ts';
import { workflowHook } from './hooks.ts';
import type { Plan, PlannedStep } from './plan.ts';
import { resolvePlanned, toPlanned } from './planned.ts';
import { abortable } from './steps/common.ts';
import { STEP_KINDS } from './steps/index.ts';
import type { Outputs, StepKind } from './steps/index.ts';

export type Outcome = 'success' | 'failure' | 'cancelled' | 'skipped';

export interface StepResult {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly section: 'steps' | 'finally';
  readonly outcome: Outcome;
  /** After continue-on-error. */
  readonly conclusion: Outcome;
  readonly durationMs: number;
  readonly attempts: number;
  readonly error?: string | undefined;
  readonly outputs: Outputs;
}

export type RunEvent =
  | { readonly type: 'run-start'; readonly name: string; readonly file: string; readonly steps: readonly { id: string; name: string; kind: string; section: string }[] }
  | { readonly type: 'step-start'; readonly id: string; readonly name: string; readonly kind: string; readonly section: string; readonly index: number; readonly total: number; readonly summary: string }
  | { readonly type: 'step-retry'; readonly id: string; readonly attempt: number; readonly delayMs: number; readonly error: string }
  | { readonly type: 'progress'; readonly id: string; readonly text: string }
  | { readonly type: 'log'; readonly id: string; readonly stream: 'stdout' | 'stderr' | 'info'; readonly line: string }
  | { readonly type: 'hook'; readonly id: string; readonly action: HookName; readonly command: string; readonly ok: boolean; readonly durationMs: number }
  | ({ readonly type: 'step-end' } & StepResult)
  | { readonly type: 'run-end'; readonly ok: boolean; readonly cancelled: boolean; readonly failedStep?: string | undefined; readonly durationMs: number };

export interface RunResult {
  readonly ok: boolean;
  readonly cancelled: boolean;
  /** Name of the first step that failed the workflow. */
  readonly failedStep?: string | undefined;
  readonly error?: unknown;
  readonly steps: readonly StepResult[];
  readonly durationMs: number;
}

export interface ExecuteOptions {
  readonly engine?: EnginePort | undefined;
  /** `--action-script` hooks, run after the workflow's own hooks at each action. */
  readonly hooks?: ActionHook | undefined;
  /** Ctrl-C: stops the running step (its process group, or the engine's dump) and the main steps. */
  readonly signal?: AbortSignal | undefined;
  /** Stops `finally` steps too (a second Ctrl-C). */
  readonly finallySignal?: AbortSignal | undefined;
  readonly env?: Readonly<Record<string, string | undefined>>;
  onEvent?(e: RunEvent): void;
}

/** Why a step's signal was aborted. */
export class CancelledError extends RuntimeError {}
export class TimeoutError extends StepError {}

export async function execute(plan: Plan, opts: ExecuteOptions = {}): Promise<RunResult> {
  const t0 = performance.now();
  const emit = (e: RunEvent): void => opts.onEvent?.(e);
  const engine = opts.engine ?? engineFunctions();
  const tmp = mkdtempSync(join(tmpdir(), 'cryo-run-'));
  const children = new Children();
  const states: Record<string, StepState> = {};
  const results: StepResult[] = [];
  const errors = new Map<string, unknown>();
  const mainSignal = opts.signal ?? new AbortController().signal;
  let failed = false;
  let failedStep: string | undefined;
  let error: unknown;
  let current: { id: string; env: Record<string, string> } | undefined;

  const processEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env ?? process.env)) if (v !== undefined) processEnv[k] = v;
  const baseEnv = { ...processEnv, ...plan.env, CRYO_WORKFLOW: plan.file, CRYO_WORKFLOW_DIR: plan.dir };
  const context = (extraEnv: Record<string, string> = {}): EvalContext => ({
    inputs: plan.inputs,
    vars: plan.vars,
    env: { ...baseEnv, ...extraEnv },
    steps: states,
    failed,
    cancelled: mainSignal.aborted,
  });
  const hooks = combineHooks(
    workflowHook(plan.hooks, {
      cwd: plan.dir,
      env: () => current?.env ?? baseEnv,
      context: () => context(current?.env),
      signal: opts.finallySignal,
      onLine: (action, stream, line) => emit({ type: 'log', id: current?.id ?? '', stream, line: `[${action}] ${line}` }),
      onHook: (h) => emit({ type: 'hook', id: current?.id ?? '', ...h }),
    }),
    opts.hooks,
  );

  const all = [...plan.steps, ...plan.finally];
  emit({ type: 'run-start', name: plan.name, file: plan.file, steps: all.map((s) => ({ id: s.id, name: s.name, kind: s.kind, section: s.section })) });

  const runStep = async (step: PlannedStep, index: number, outer: AbortSignal): Promise<StepResult> => {
    const start = performance.now();
    const base = { id: step.id, name: step.name, kind: step.kind, section: step.section };
    const done = (outcome: Outcome, conclusion: Outcome, attempts: number, outputs: Outputs, err?: unknown): StepResult => {
      states[step.id] = { outputs, outcome, conclusion };
      if (err !== undefined) errors.set(step.id, err);
      const r: StepResult = { ...base, outcome, conclusion, durationMs: performance.now() - start, attempts, error: err === undefined ? undefined : message(err), outputs };
      emit({ type: 'step-end', ...r });
      return r;
    };
    let env: Record<string, string>;
    let config: Value;
    let continueOnError: boolean;
    try {
      if (!truthy(evaluate(step.if.expr, context()))) return done('skipped', 'skipped', 0, {});
      const ctx0 = context();
      env = { ...baseEnv, ...Object.fromEntries(Object.entries(step.env).map(([k, v]) => [k, stringify(resolvePlanned(v, ctx0))])) };
      const ctx = context(env);
      config = resolvePlanned(step.with, ctx);
      continueOnError = truthy(resolvePlanned(step.continueOnError, ctx));
    } catch (e) {
      emit({ type: 'step-start', ...base, index, total: all.length, summary: step.summary });
      return done('failure', 'failure', 0, {}, e);
    }
    const kind = STEP_KINDS[step.kind];
    emit({ type: 'step-start', ...base, index, total: all.length, summary: resolvedSummary(kind, config, step.summary) });
    current = { id: step.id, env };
    let attempt = 0;
    for (;;) {
      attempt++;
      const controller = new AbortController();
      const onOuter = (): void => controller.abort(new CancelledError('cancelled'));
      outer.addEventListener('abort', onOuter, { once: true });
      if (outer.aborted) onOuter();
      let partial: Outputs = {};
      const timer = step.timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(new TimeoutError(`timed out after ${formatDuration(step.timeoutMs!)}; its processes were killed`)), step.timeoutMs);
      try {
        const outputs = await kind.run(config, {
          id: step.id,
          workflowDir: plan.dir,
          env,
          signal: controller.signal,
          hooks,
          engine,
          tmpDir: tmp,
          children,
          partial: (o) => void (partial = { ...o }),
          progress: (text) => emit({ type: 'progress', id: step.id, text }),
          log: (stream, line) => emit({ type: 'log', id: step.id, stream, line }),
        });
        // A step that ignored its abort still counts as cancelled or timed out.
        if (controller.signal.aborted) throw controller.signal.reason;
        return done('success', 'success', attempt, outputs);
      } catch (e) {
        // Killed by a timeout or Ctrl-C: that is the reason, not the exit status it caused.
        const err: unknown = controller.signal.aborted ? controller.signal.reason ?? e : e;
        if (err instanceof CancelledError) return done('cancelled', 'cancelled', attempt, partial, err);
        if (attempt <= step.retry.limit && !outer.aborted) {
          emit({ type: 'step-retry', id: step.id, attempt, delayMs: step.retry.delayMs, error: message(err) });
          try {
            await abortable(outer, step.retry.delayMs);
            continue;
          } catch {
            return done('cancelled', 'cancelled', attempt, {}, new CancelledError('cancelled'));
          }
        }
        return done('failure', continueOnError ? 'success' : 'failure', attempt, partial, err);
      } finally {
        if (timer) clearTimeout(timer);
        outer.removeEventListener('abort', onOuter);
        current = undefined;
      }
    }
  };

  try {
    let i = 0;
    for (const [list, signal] of [[plan.steps, mainSignal], [plan.finally, opts.finallySignal ?? new AbortController().signal]] as const) {
      for (const step of list) {
        const r = await runStep(step, ++i, signal);
        results.push(r);
        if (r.conclusion === 'failure' || (r.conclusion === 'cancelled' && step.section === 'steps')) {
          if (!failed && failedStep === undefined) {
            failedStep = r.name;
            error = errors.get(r.id);
          }
          if (r.conclusion === 'failure') failed = true;
        }
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    await children.reapExited();
  }
  const cancelled = mainSignal.aborted;
  const ok = !failed && !cancelled;
  const durationMs = performance.now() - t0;
  emit({ type: 'run-end', ok, cancelled, failedStep, durationMs });
  return { ok, cancelled, failedStep, error, steps: results, durationMs };
}

/** The step's one-line summary with `${{ }}` already resolved (as planned if that fails). */
function resolvedSummary(kind: StepKind, config: Value, planned: string): string {
  try {
    return kind.summary(toPlanned(config));
  } catch {
    return planned;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
