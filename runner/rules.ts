// Checks the schema cannot express, each a small function adding issues (changesets' rules.ts):
// unique ids, keys that only fit `run` steps, input defaults of the declared type, and every
// `${{ }}` expression: its syntax, and that what it names exists where it is used.
import { WorkflowInvalidError } from './errors.ts';
import type { Issue } from './errors.ts';
import { ExprSyntaxError, didYouMean, parseCondition, parseTemplate, references } from './expr.ts';
import type { Expr } from './expr.ts';
import { escapePointer, positionInString, positionOf } from './load.ts';
import type { Source } from './load.ts';
import { STEP_KINDS } from './steps/index.ts';
import { describePath, found } from './validate.ts';
import type { RawWorkflow, Step, Workflow } from './types.ts';

interface RuleContext {
  readonly wf: Workflow;
  readonly raw: RawWorkflow;
  readonly source: Source;
  report(pointer: string, which: 'key' | 'value', message: string): void;
  reportIn(pointer: string, value: string, at: number, message: string): void;
}
type Rule = (ctx: RuleContext) => void;

/** Throws WorkflowInvalidError with every rule violation. */
export function checkRules(wf: Workflow, raw: RawWorkflow, source: Source): void {
  const issues = ruleIssues(wf, raw, source);
  if (issues.length) throw new WorkflowInvalidError(issues);
}

export function ruleIssues(wf: Workflow, raw: RawWorkflow, source: Source): Issue[] {
  const issues: Issue[] = [];
  const add = (pos: Issue['pos'], message: string): void => void issues.push({ file: source.file, pos, message, text: source.text });
  const ctx: RuleContext = {
    wf,
    raw,
    source,
    report: (pointer, which, message) => add(positionOf(source, pointer, which), message),
    reportIn: (pointer, value, at, message) => add(positionInString(source, pointer, value, at), message),
  };
  for (const rule of RULES) rule(ctx);
  return issues.sort((a, b) => a.pos.offset - b.pos.offset);
}

const allSteps = (wf: Workflow): readonly Step[] => [...wf.steps, ...wf.finally];

const uniqueIds: Rule = ({ wf, report }) => {
  const seen = new Map<string, Step>();
  for (const s of allSteps(wf)) {
    if (!s.userId) continue;
    const first = seen.get(s.id);
    if (first) report(`${s.pointer}/id`, 'value', `${describePath(s.pointer)}.id: duplicate id "${s.id}" (expected a unique id, found it already at line ${first.at.line})`);
    else seen.set(s.id, s);
  }
};

const runOnlyKeys: Rule = ({ wf, raw, report }) => {
  for (const s of allSteps(wf)) {
    if (s.kind === 'run') continue;
    const r = (s.section === 'steps' ? raw.steps : raw.finally ?? [])[s.index]!;
    for (const k of ['shell', 'working-directory'] as const) {
      if (r[k] !== undefined) report(`${s.pointer}/${k}`, 'key', `${describePath(s.pointer)}.${k}: only for run steps (expected it on a step with "run", found it on a "${s.kind}" step)`);
    }
  }
};

const inputDefaults: Rule = ({ wf, report }) => {
  for (const [name, spec] of Object.entries(wf.inputs)) {
    if (spec.default === undefined) continue;
    const ok = spec.type === 'string' ? typeof spec.default === 'string' : spec.type === 'boolean' ? typeof spec.default === 'boolean' : spec.type === 'integer' ? Number.isInteger(spec.default) : typeof spec.default === 'number';
    if (!ok) report(`/inputs/${escapePointer(name)}/default`, 'value', `inputs.${name}.default: wrong type (expected ${spec.type === 'integer' ? 'an integer' : `a ${spec.type}`}, found ${found(spec.default)})`);
  }
};

/** What an expression at some place may name. */
interface Scope {
  /** Vars defined so far (vars may use earlier vars only). */
  readonly vars: readonly string[];
  /** Steps whose outputs exist when this runs; undefined: no step outputs here at all. */
  readonly steps: readonly Step[] | undefined;
  readonly where: string;
}

const expressions: Rule = (ctx) => {
  const { wf, raw } = ctx;
  const allVars = Object.keys(raw.vars ?? {});
  const noSteps = (where: string): Scope => ({ vars: allVars, steps: undefined, where });
  Object.entries(raw.vars ?? {}).forEach(([name, v], i) => {
    if (typeof v === 'string') checkStrings(ctx, v, `/vars/${escapePointer(name)}`, { vars: allVars.slice(0, i), steps: undefined, where: 'in vars' });
  });
  checkStrings(ctx, raw.env ?? {}, '/env', noSteps('in the workflow env'));
  checkStrings(ctx, raw.hooks ?? {}, '/hooks', { vars: allVars, steps: allSteps(wf).filter((s) => s.userId), where: 'in hooks' });
  for (const s of allSteps(wf)) {
    const earlier = s.section === 'steps' ? wf.steps.slice(0, s.index) : [...wf.steps, ...wf.finally.slice(0, s.index)];
    const scope: Scope = { vars: allVars, steps: earlier.filter((x) => x.userId), where: s.section === 'steps' ? 'before this step' : 'before this finally step' };
    const r = (s.section === 'steps' ? raw.steps : raw.finally ?? [])[s.index]!;
    for (const [key, v] of Object.entries(r)) {
      if (key === 'id' || key === 'name' || key === 'timeout' || key === 'retry') continue;
      const pointer = `${s.pointer}/${escapePointer(key)}`;
      if (key === 'if' && typeof v === 'string') checkCondition(ctx, v, pointer, scope);
      else checkStrings(ctx, v, pointer, scope);
    }
  }
};

function checkStrings(ctx: RuleContext, v: unknown, pointer: string, scope: Scope): void {
  if (typeof v === 'string') {
    if (!v.includes('${{')) return;
    try {
      const t = parseTemplate(v);
      for (const part of t.parts) if (typeof part !== 'string') checkRefs(ctx, part.expr, pointer, v, part.at, scope);
    } catch (e) {
      if (!(e instanceof ExprSyntaxError)) throw e;
      ctx.reportIn(pointer, v, e.at, `${describePath(pointer)}: bad expression: ${e.message}`);
    }
  } else if (Array.isArray(v)) v.forEach((x, i) => checkStrings(ctx, x, `${pointer}/${i}`, scope));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) checkStrings(ctx, x, `${pointer}/${escapePointer(k)}`, scope);
}

function checkCondition(ctx: RuleContext, v: string, pointer: string, scope: Scope): void {
  try {
    const { expr, at } = parseCondition(v);
    checkRefs(ctx, expr, pointer, v, at, scope);
  } catch (e) {
    if (!(e instanceof ExprSyntaxError)) throw e;
    ctx.reportIn(pointer, v, e.at, `${describePath(pointer)}: bad expression: ${e.message}`);
  }
}

function checkRefs(ctx: RuleContext, expr: Expr, pointer: string, value: string, base: number, scope: Scope): void {
  const where = describePath(pointer);
  for (const ref of references(expr)) {
    const [root, name, third, fourth] = ref.path;
    const say = (msg: string): void => ctx.reportIn(pointer, value, base + ref.at, `${where}: ${msg}`);
    if (name === undefined) continue;
    if (root === 'inputs' && !(name in ctx.wf.inputs)) {
      const known = Object.keys(ctx.wf.inputs);
      say(`unknown input "${name}" (expected ${known.length ? `one of: ${known.join(', ')}` : 'an input declared under `inputs:`, and there is none'}${didYouMean(name, known)})`);
    } else if (root === 'vars' && !scope.vars.includes(name)) {
      const all = Object.keys(ctx.raw.vars ?? {});
      say(all.includes(name)
        ? `vars.${name} is used before it is defined (a var may use only the vars above it)`
        : `unknown var "${name}" (expected ${all.length ? `one of: ${all.join(', ')}` : 'a var declared under `vars:`, and there is none'}${didYouMean(name, all)})`);
    } else if (root === 'steps') {
      if (scope.steps === undefined) {
        say(`steps.${name}: step outputs are not available ${scope.where} (they are computed before the first step)`);
        continue;
      }
      const step = scope.steps.find((s) => s.id === name);
      if (!step) {
        const later = allSteps(ctx.wf).some((s) => s.userId && s.id === name);
        const ids = scope.steps.map((s) => s.id);
        say(later
          ? `steps.${name} runs later (expected a step ${scope.where})`
          : `unknown step "${name}" (expected ${ids.length ? `a step id ${scope.where}: ${ids.join(', ')}` : `a step with an id ${scope.where}, and there is none`}${didYouMean(name, ids)})`);
        continue;
      }
      if (third !== undefined && !['outputs', 'outcome', 'conclusion'].includes(third)) {
        say(`steps.${name}.${third}: unknown property (expected outputs, outcome or conclusion${didYouMean(third, ['outputs', 'outcome', 'conclusion'])})`);
        continue;
      }
      const outputs: readonly string[] | undefined = STEP_KINDS[step.kind as keyof typeof STEP_KINDS].outputs;
      if (third === 'outputs' && fourth !== undefined && outputs !== undefined && !outputs.includes(fourth)) {
        say(`unknown output "${fourth}" of step "${name}" (a ${step.kind} step sets: ${outputs.join(', ')}${didYouMean(fourth, outputs)})`);
      }
    }
  }
}

const RULES: readonly Rule[] = [uniqueIds, runOnlyKeys, inputDefaults, expressions];
