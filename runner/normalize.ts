// Shorthands → the canonical Workflow, once: a hook command becomes a list, a step's kind key
// becomes `kind` + `config`, durations become milliseconds, steps without an id get `_N`.
import { dirname, resolve } from 'node:path';
import type { HookName } from '../engine/index.ts';
import { parseDuration } from './duration.ts';
import { positionOf } from './load.ts';
import type { Source } from './load.ts';
import { STEP_KIND_NAMES } from './steps/index.ts';
import type { InputSpec, RawStep, RawWorkflow, Section, Step, Workflow } from './types.ts';

export function normalize(raw: RawWorkflow, source: Source): Workflow {
  let n = 0; // counts generated ids across both sections
  const steps = (section: Section, list: readonly RawStep[] | undefined): Step[] =>
    (list ?? []).map((s, index) => normalizeStep(s, section, index, source, ++n));
  const hooks: Partial<Record<HookName, readonly string[]>> = {};
  for (const [name, cmds] of Object.entries(raw.hooks ?? {})) hooks[name as HookName] = typeof cmds === 'string' ? [cmds] : [...(cmds as readonly string[])];
  const inputs: Record<string, InputSpec> = {};
  for (const [name, spec] of Object.entries(raw.inputs ?? {})) {
    inputs[name] = { type: spec.type ?? 'string', required: spec.required ?? false, default: spec.default, description: spec.description ?? '', at: positionOf(source, `/inputs/${name}`, 'key') };
  }
  return {
    file: source.file,
    text: source.text,
    dir: dirname(resolve(source.file)),
    name: raw.name ?? source.file,
    description: raw.description ?? '',
    inputsAt: positionOf(source, '/inputs', 'key'),
    inputs,
    vars: raw.vars ?? {},
    env: raw.env ?? {},
    hooks,
    steps: steps('steps', raw.steps),
    finally: steps('finally', raw.finally),
    schedule: raw.schedule,
  };
}

function normalizeStep(s: RawStep, section: Section, index: number, source: Source, n: number): Step {
  const kind = STEP_KIND_NAMES.find((k) => k in s) ?? 'run';
  const config = kind === 'run' ? { script: s.run, shell: s.shell, 'working-directory': s['working-directory'] } : s[kind];
  const id = s.id ?? `_${n}`;
  return {
    section,
    index,
    pointer: `/${section}/${index}`,
    at: positionOf(source, `/${section}/${index}`),
    id,
    userId: s.id !== undefined,
    name: s.name ?? s.id ?? kind,
    kind,
    config: kind === 'run' ? Object.fromEntries(Object.entries(config as object).filter(([, v]) => v !== undefined)) : config,
    if: s.if,
    env: s.env ?? {},
    timeoutMs: s.timeout === undefined ? undefined : durationOr(s.timeout, undefined),
    retry: { limit: s.retry ? s.retry.limit ?? 3 : 0, delayMs: durationOr(s.retry?.delay ?? '1s', 1000) },
    continueOnError: s['continue-on-error'] ?? false,
  };
}

// Invalid durations were reported by validation; rules may still run over such a file.
function durationOr<T>(s: unknown, fallback: T): number | T {
  try {
    return parseDuration(String(s));
  } catch {
    return fallback;
  }
}
