// The runner's public surface: load → validate → normalize → rules → plan → execute.
import type { ActionHook } from '../engine/index.ts';
import { InputError, UnsupportedError } from '../errors.ts';
import { WorkflowInvalidError } from './errors.ts';
import type { Issue } from './errors.ts';
import { execute } from './execute.ts';
import type { ExecuteOptions, RunResult } from './execute.ts';
import { loadWorkflow, parseSource } from './load.ts';
import type { Source } from './load.ts';
import { normalize } from './normalize.ts';
import { planWorkflow } from './plan.ts';
import type { Plan, PlanOptions } from './plan.ts';
import { ruleIssues } from './rules.ts';
import type { Workflow, RawWorkflow } from './types.ts';
import { shapeIssues } from './validate.ts';

export { WorkflowInvalidError, WorkflowFailedError, WorkflowCancelledError, StepError, formatIssue, formatIssues, codeFrame } from './errors.ts';
export type { Issue } from './errors.ts';
export { execute, CancelledError, TimeoutError } from './execute.ts';
export type { ExecuteOptions, Outcome, RunEvent, RunResult, StepResult } from './execute.ts';
export { parseExpr, parseTemplate, evaluate } from './expr.ts';
export type { Expr, EvalContext, Template, Value } from './expr.ts';
export { HOOK_NAMES, workflowHook } from './hooks.ts';
export { loadWorkflow, parseSource } from './load.ts';
export type { Pos, Source } from './load.ts';
export { planWorkflow } from './plan.ts';
export type { Plan, PlanOptions, PlannedStep } from './plan.ts';
export { planToJSON, formatPlan, textReporter, jsonReporter, formatSummary } from './report.ts';
export { STEP_KINDS } from './steps/index.ts';
export type { StepKindName } from './steps/index.ts';
export { workflowSchema } from './validate.ts';
export { schemaPath } from './paths.ts';
export { engineFunctions } from './engine-port.ts';
export type { EnginePort } from './engine-port.ts';
export { packImages, unpackImages } from './archive.ts';
/** Tools and tests: a manifest for an images directory no dump wrote. */
export { verifyImages, writeManifestFor as writeManifest } from '../engine/index.ts';
export type { Workflow } from './types.ts';

/** Every problem of an already-loaded source: shape first; rules only on a well-shaped file. */
export function checkSource(source: Source): { ok: true; workflow: Workflow; raw: RawWorkflow } | { ok: false; issues: Issue[] } {
  const shape = shapeIssues(source);
  const raw = source.data as RawWorkflow;
  if (shape.length) return { ok: false, issues: [...shape, ...bestEffortRules(raw, source, shape)].sort((a, b) => a.pos.offset - b.pos.offset) };
  const workflow = normalize(raw, source);
  const rules = ruleIssues(workflow, raw, source);
  return rules.length ? { ok: false, issues: rules } : { ok: true, workflow, raw };
}

// Rules also run on a file with shape errors, so one pass reports everything it can; a file too
// malformed for them to read (steps not a list…) just gets its shape errors.
function bestEffortRules(raw: RawWorkflow, source: Source, shape: readonly Issue[]): Issue[] {
  try {
    const taken = new Set(shape.map((i) => i.pos.offset));
    return ruleIssues(normalize(raw, source), raw, source).filter((i) => !taken.has(i.pos.offset));
  } catch {
    return [];
  }
}

/** Loads and checks a workflow file; throws WorkflowInvalidError with every issue. */
export async function readWorkflow(file: string): Promise<Workflow> {
  return checkedWorkflow(await loadWorkflow(file));
}

export function readWorkflowText(file: string, text: string): Workflow {
  return checkedWorkflow(parseSource(file, text));
}

function checkedWorkflow(source: Source): Workflow {
  const r = checkSource(source);
  if (!r.ok) throw new WorkflowInvalidError(r.issues);
  return r.workflow;
}

/** `cryo validate`: the issues of each file (YAML syntax errors included), none thrown. */
export async function validateFiles(files: readonly string[]): Promise<{ file: string; issues: readonly Issue[]; steps: number }[]> {
  const out: { file: string; issues: readonly Issue[]; steps: number }[] = [];
  for (const file of files) {
    try {
      const wf = await readWorkflow(file);
      out.push({ file, issues: [], steps: wf.steps.length + wf.finally.length });
    } catch (e) {
      if (!(e instanceof WorkflowInvalidError)) throw e;
      out.push({ file, issues: e.issues, steps: 0 });
    }
  }
  return out;
}

export async function planFile(file: string, opts: PlanOptions = {}): Promise<Plan> {
  return planWorkflow(await readWorkflow(file), { env: process.env, ...opts });
}

export interface RunOptions extends PlanOptions, Omit<ExecuteOptions, 'env' | 'hooks'> {
  /** `--action-script` hooks, combined with the workflow's. */
  readonly actionHooks?: ActionHook | undefined;
}

/** `cryo run`: plan, then execute. The result says whether it failed; nothing is thrown for a failed step. */
export async function runWorkflow(file: string, opts: RunOptions = {}): Promise<RunResult> {
  const plan = await planFile(file, opts);
  if (plan.schedule !== undefined) {
    throw new UnsupportedError(`${file}: this workflow has a schedule:, which \`cryo schedule\` will run (not available yet)`, {
      hint: 'remove the schedule: block to run the steps once with `cryo run`',
    });
  }
  return execute(plan, { ...opts, hooks: opts.actionHooks, env: opts.env ?? process.env });
}

/** `--input k=v` flags (repeatable) → a record; a flag without `=` is an InputError. */
export function parseInputFlags(flags: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags ?? []) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new InputError(`--input ${JSON.stringify(f)}: expected NAME=VALUE`, { hint: 'e.g. --input pid=1234' });
    out[f.slice(0, eq)] = f.slice(eq + 1);
  }
  return out;
}
