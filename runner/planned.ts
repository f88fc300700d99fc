// Planned values: configuration whose `${{ }}` strings are parsed templates. Built at plan time,
// partly evaluated there (what depends only on inputs, vars and env), finished at execute time.
import { evaluate, parseTemplate, references, renderTemplate, stringify, usesStatusFunction } from './expr.ts';
import type { EvalContext, Template, TemplatePart, Value } from './expr.ts';
import type { Planned } from './types.ts';

export function isTemplate(p: Planned): p is { readonly template: Template } {
  return typeof p === 'object' && p !== null && !Array.isArray(p) && 'template' in p && typeof (p as { template: unknown }).template === 'object';
}

/** Raw (validated) configuration → Planned; throws ExprSyntaxError (rules.ts reports it first). */
export function planValue(raw: unknown): Planned {
  if (typeof raw === 'string') return raw.includes('${{') ? { template: parseTemplate(raw) } : raw;
  if (Array.isArray(raw)) return raw.map(planValue);
  if (raw !== null && typeof raw === 'object') return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, planValue(v)]));
  return (raw ?? null) as Planned;
}

/** Evaluates every template: what a step gets when it runs. */
export function resolvePlanned(p: Planned, ctx: EvalContext): Value {
  if (isTemplate(p)) return renderTemplate(p.template, ctx);
  if (Array.isArray(p)) return p.map((x) => resolvePlanned(x, ctx));
  if (p !== null && typeof p === 'object') return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, resolvePlanned(v as Planned, ctx)]));
  return p as Value;
}

// A part is static when it reads nothing that only exists while running.
function isStatic(part: TemplatePart): boolean {
  return !usesStatusFunction(part.expr) && references(part.expr).every((r) => r.path[0] !== 'steps');
}

/** Evaluates the static parts of every template now; the rest stays for execute time. */
export function partialEvaluate(p: Planned, ctx: EvalContext): Planned {
  if (isTemplate(p)) {
    const parts = p.template.parts;
    if (!parts.every((x) => typeof x === 'string' || isStatic(x))) {
      const kept = parts.map((x) => (typeof x === 'string' || !isStatic(x) ? x : stringify(evaluate(x.expr, ctx))));
      const merged: (string | TemplatePart)[] = [];
      for (const x of kept) {
        const last = merged.at(-1);
        if (typeof x === 'string' && typeof last === 'string') merged[merged.length - 1] = last + x;
        else merged.push(x);
      }
      const source = merged.map((x) => (typeof x === 'string' ? x : `\${{ ${x.source} }}`)).join('');
      return { template: { source, parts: merged } };
    }
    return toPlanned(renderTemplate(p.template, ctx));
  }
  if (Array.isArray(p)) return p.map((x) => partialEvaluate(x, ctx));
  if (p !== null && typeof p === 'object') return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, partialEvaluate(v as Planned, ctx)]));
  return p;
}

/** A resolved value as Planned (no templates): for summaries of what a step really got. */
export function toPlanned(v: Value): Planned {
  if (v === undefined) return null;
  if (Array.isArray(v)) return v.map(toPlanned);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlanned(x)]));
  return v as Planned;
}

/** For printing: templates become their `${{ }}` source text. */
export function plannedToPlain(p: Planned): unknown {
  if (isTemplate(p)) return p.template.source;
  if (Array.isArray(p)) return p.map(plannedToPlain);
  if (p !== null && typeof p === 'object') return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, plannedToPlain(v as Planned)]));
  return p;
}
