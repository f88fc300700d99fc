// Pure planning: inputs checked and converted, vars and workflow env computed, every step's
// configuration planned with its expressions parsed (and evaluated already when they depend only
// on inputs, vars and env). Nothing runs here: `cryo plan` prints this and stops.
import type { HookName } from '../engine/index.ts';
import { WorkflowInvalidError } from './errors.ts';
import type { Issue } from './errors.ts';
import { parseCondition, renderTemplate, parseTemplate, stringify, usesStatusFunction } from './expr.ts';
import type { EvalContext, Expr, Value } from './expr.ts';
import { partialEvaluate, planValue } from './planned.ts';
import { STEP_KINDS } from './steps/index.ts';
import type { StepKindName } from './steps/index.ts';
import type { Planned, Scalar, Section, Step, Workflow } from './types.ts';
import type { Pos } from './load.ts';

export interface PlannedStep {
  readonly id: string;
  readonly userId: boolean;
  readonly name: string;
  readonly kind: StepKindName;
  readonly section: Section;
  readonly pointer: string;
  readonly at: Pos;
  /** The condition as written (or the default), and parsed with the implicit status check. */
  readonly if: { readonly source: string; readonly expr: Expr };
  readonly with: Planned;
  readonly env: Readonly<Record<string, Planned>>;
  readonly timeoutMs: number | undefined;
  readonly retry: { readonly limit: number; readonly delayMs: number };
  readonly continueOnError: Planned;
  readonly summary: string;
}

export interface Plan {
  readonly file: string;
  readonly dir: string;
  readonly name: string;
  readonly description: string;
  readonly inputs: Readonly<Record<string, Value>>;
  readonly vars: Readonly<Record<string, Value>>;
  /** Workflow env, computed. */
  readonly env: Readonly<Record<string, string>>;
  readonly hooks: Readonly<Partial<Record<HookName, readonly Planned[]>>>;
  readonly steps: readonly PlannedStep[];
  readonly finally: readonly PlannedStep[];
  readonly schedule: Readonly<Record<string, unknown>> | undefined;
}

export interface PlanOptions {
  /** `--input k=v` values (strings are converted to the declared type). */
  readonly inputs?: Readonly<Record<string, string | Scalar>>;
  /** The environment cryo runs in (process.env by default, passed in to keep this pure). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export function planWorkflow(wf: Workflow, opts: PlanOptions = {}): Plan {
  const inputs = resolveInputs(wf, opts.inputs ?? {});
  const baseEnv: Record<string, Value> = {};
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) baseEnv[k] = v;
  for (const [k, v] of Object.entries(wf.env)) if (typeof v !== 'string' || !v.includes('${{')) baseEnv[k] = v;
  const vars: Record<string, Value> = {};
  const ctx = (): EvalContext => ({ inputs, vars, env: baseEnv, steps: {}, failed: false, cancelled: false });
  for (const [k, v] of Object.entries(wf.vars)) vars[k] = typeof v === 'string' && v.includes('${{') ? renderTemplate(parseTemplate(v), ctx()) : v;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(wf.env)) env[k] = stringify(typeof v === 'string' && v.includes('${{') ? renderTemplate(parseTemplate(v), ctx()) : v);
  const evalCtx: EvalContext = { ...ctx(), env: { ...baseEnv, ...env } };
  const hooks: Partial<Record<HookName, Planned[]>> = {};
  for (const [name, cmds] of Object.entries(wf.hooks)) hooks[name as HookName] = cmds.map((c) => partialEvaluate(planValue(c), evalCtx));
  const planStep = (s: Step): PlannedStep => {
    const kind = STEP_KINDS[s.kind as StepKindName];
    const w = partialEvaluate(kind.plan(s.config), evalCtx);
    return {
      id: s.id,
      userId: s.userId,
      name: s.name,
      kind: s.kind as StepKindName,
      section: s.section,
      pointer: s.pointer,
      at: s.at,
      if: condition(s),
      with: w,
      env: Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, partialEvaluate(planValue(v), evalCtx)])),
      timeoutMs: s.timeoutMs,
      retry: s.retry,
      continueOnError: partialEvaluate(planValue(s.continueOnError), evalCtx),
      summary: kind.summary(w),
    };
  };
  return {
    file: wf.file,
    dir: wf.dir,
    name: wf.name,
    description: wf.description,
    inputs,
    vars,
    env,
    hooks,
    steps: wf.steps.map(planStep),
    finally: wf.finally.map(planStep),
    schedule: wf.schedule,
  };
}

// Like GitHub: a condition without a status function means "and the workflow is doing fine";
// in `finally` the implicit status is always().
function condition(s: Step): PlannedStep['if'] {
  const status: Expr = { type: 'call', name: s.section === 'finally' ? 'always' : 'success', at: 0 };
  if (s.if === undefined) return { source: `${status.name}()`, expr: status };
  if (typeof s.if === 'boolean') return { source: String(s.if), expr: { type: 'binary', op: '&&', left: status, right: { type: 'literal', value: s.if, at: 0 }, at: 0 } };
  const { expr } = parseCondition(s.if);
  return { source: s.if, expr: usesStatusFunction(expr) ? expr : { type: 'binary', op: '&&', left: status, right: expr, at: 0 } };
}

function resolveInputs(wf: Workflow, given: Readonly<Record<string, string | Scalar>>): Record<string, Value> {
  const issues: Issue[] = [];
  const add = (pos: Pos, message: string): void => void issues.push({ file: wf.file, pos, message, text: wf.text });
  const out: Record<string, Value> = {};
  const names = Object.keys(wf.inputs);
  for (const k of Object.keys(given)) {
    if (!(k in wf.inputs)) add(wf.inputsAt, `--input ${k}: unknown input (expected ${names.length ? `one of: ${names.join(', ')}` : 'none: the workflow declares no inputs'})`);
  }
  for (const [name, spec] of Object.entries(wf.inputs)) {
    const v = given[name] ?? spec.default;
    if (v === undefined) {
      if (spec.required) add(spec.at, `inputs.${name}: required input missing (expected --input ${name}=<${spec.type}>${spec.description ? `: ${spec.description}` : ''})`);
      continue;
    }
    const converted = convert(v, spec.type);
    if (converted === undefined) add(spec.at, `inputs.${name}: wrong type (expected ${spec.type === 'integer' ? 'an integer' : `a ${spec.type}`}, found ${JSON.stringify(v)})`);
    else out[name] = converted;
  }
  if (issues.length) throw new WorkflowInvalidError(issues);
  return out;
}

function convert(v: string | Scalar, type: string): Scalar | undefined {
  if (type === 'string') return String(v);
  if (type === 'boolean') return typeof v === 'boolean' ? v : v === 'true' ? true : v === 'false' ? false : undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (Number.isNaN(n)) return undefined;
  return type === 'integer' && !Number.isInteger(n) ? undefined : n;
}
