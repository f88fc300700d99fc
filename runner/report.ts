// Presentation of plans and runs for the CLI: the plan as text or JSON, live progress (a spinner
// on a terminal, plain lines otherwise, NDJSON with --json) and the final summary.
import { dump as toYaml } from 'js-yaml';
import { running } from '../engine/index.ts';
import { mib } from './steps/common.ts';
import { formatDuration } from './duration.ts';
import type { RunEvent, RunResult, StepResult } from './execute.ts';
import type { Plan, PlannedStep } from './plan.ts';
import { plannedToPlain } from './planned.ts';

interface Writable {
  write(s: string): unknown;
}

export function planToJSON(plan: Plan): unknown {
  const step = (s: PlannedStep): unknown => ({
    id: s.userId ? s.id : undefined,
    name: s.name,
    kind: s.kind,
    line: s.at.line,
    if: s.if.source,
    with: plannedToPlain(s.with),
    env: plannedToPlain(s.env),
    timeoutMs: s.timeoutMs,
    retry: s.retry.limit ? s.retry : undefined,
    continueOnError: plannedToPlain(s.continueOnError),
  });
  return {
    file: plan.file,
    name: plan.name,
    description: plan.description || undefined,
    inputs: plan.inputs,
    vars: plan.vars,
    env: plan.env,
    hooks: plannedToPlain(plan.hooks as never),
    steps: plan.steps.map(step),
    finally: plan.finally.map(step),
    schedule: plan.schedule,
  };
}

function yamlBlock(v: unknown, indent: string): string {
  return toYaml(v, { lineWidth: 120, noRefs: true })
    .trimEnd()
    .split('\n')
    .map((l) => indent + l)
    .join('\n');
}

export function formatPlan(plan: Plan): string {
  const out: string[] = [`workflow ${plan.name} (${plan.file})`];
  if (plan.description) out.push(`  ${plan.description}`);
  const section = (title: string, v: Record<string, unknown>): void => {
    if (Object.keys(v).length) out.push(`${title}:`, yamlBlock(v, '  '));
  };
  section('inputs', plan.inputs as Record<string, unknown>);
  section('vars', plan.vars as Record<string, unknown>);
  section('env', plan.env);
  section('hooks', plannedToPlain(plan.hooks as never) as Record<string, unknown>);
  let n = 0;
  for (const [title, list] of [['steps', plan.steps], ['finally', plan.finally]] as const) {
    if (!list.length) continue;
    out.push(`${title}:`);
    for (const s of list) {
      const flags = [
        s.if.source !== (s.section === 'finally' ? 'always()' : 'success()') ? `if: ${s.if.source}` : '',
        s.timeoutMs !== undefined ? `timeout ${formatDuration(s.timeoutMs)}` : '',
        s.retry.limit ? `retry ${s.retry.limit}× every ${formatDuration(s.retry.delayMs)}` : '',
        plannedToPlain(s.continueOnError) !== false ? `continue-on-error: ${String(plannedToPlain(s.continueOnError))}` : '',
      ].filter(Boolean);
      out.push(`  ${++n}. ${s.name} [${s.kind}]${s.userId && s.name !== s.id ? ` id=${s.id}` : ''}${flags.length ? `  (${flags.join(', ')})` : ''}`);
      const w = plannedToPlain(s.with);
      if (w !== null && typeof w === 'object' && Object.keys(w).length) out.push(yamlBlock(w, '       '));
      if (Object.keys(s.env).length) out.push('       env:', yamlBlock(plannedToPlain(s.env), '         '));
    }
  }
  if (plan.schedule) out.push('schedule (run by `cryo schedule`, not by `cryo run`):', yamlBlock(plan.schedule, '  '));
  return out.join('\n');
}

export interface Reporter {
  onEvent(e: RunEvent): void;
  close(): void;
}

/** NDJSON: one event per line with a timestamp. */
export function jsonReporter(out: Writable): Reporter {
  return {
    onEvent: (e) => void out.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`),
    close: () => undefined,
  };
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;
const MARK = { success: '✓', failure: '✗', cancelled: '⊘', skipped: '-' } as const satisfies Record<StepResult['outcome'], string>;

/** Human progress: a spinner line with a timer on a terminal, one line per event otherwise. */
export function textReporter(out: Writable, opts: { tty: boolean }): Reporter {
  const state = { frame: 0, running: undefined as { label: string; t0: number; progress?: string } | undefined, timer: undefined as NodeJS.Timeout | undefined };
  const clear = (): void => void (opts.tty && state.running && out.write('\r\x1b[K'));
  const draw = (): void => {
    if (!opts.tty || !state.running) return;
    const t = formatDuration(performance.now() - state.running.t0);
    const extra = state.running.progress ? `  ${state.running.progress}` : '';
    out.write(`\r\x1b[K${FRAMES[state.frame++ % FRAMES.length]} ${state.running.label}  ${t}${extra}`);
  };
  const print = (line: string): void => {
    clear();
    out.write(`${line}\n`);
    draw();
  };
  return {
    onEvent(e) {
      switch (e.type) {
        case 'run-start':
          print(`▶ ${e.name}: ${e.steps.length} step${e.steps.length === 1 ? '' : 's'}`);
          break;
        case 'step-start': {
          const label = `[${e.index}/${e.total}] ${e.name} (${e.kind}${e.summary ? `: ${e.summary}` : ''})`;
          if (opts.tty) {
            state.running = { label, t0: performance.now() };
            state.timer ??= setInterval(draw, 80);
            draw();
          } else print(`▶ ${label}`);
          break;
        }
        case 'progress':
          // Transient: only the spinner line shows it.
          if (state.running) state.running.progress = e.text;
          break;
        case 'log':
          print(`  ${e.stream === 'stderr' ? '!' : '│'} ${e.line}`);
          break;
        case 'hook':
          print(`  ${e.ok ? '↳' : '✗'} hook ${e.action}: ${e.command}${e.ok ? '' : ' (failed)'}`);
          break;
        case 'step-retry':
          print(`  ↻ attempt ${e.attempt} failed: ${e.error}; retrying in ${formatDuration(e.delayMs)}`);
          break;
        case 'step-end': {
          clear();
          state.running = undefined;
          const time = e.outcome === 'skipped' ? 'skipped' : formatDuration(e.durationMs);
          const note = e.outcome === 'failure' && e.conclusion === 'success' ? ' (continue-on-error)' : '';
          out.write(`${MARK[e.outcome]} ${e.name}  ${time}${note}${e.error ? `  ${e.error}` : ''}\n`);
          break;
        }
        case 'run-end':
          if (state.timer) clearInterval(state.timer);
          state.timer = undefined;
          break;
      }
    },
    close() {
      if (state.timer) clearInterval(state.timer);
      clear();
    },
  };
}

function describeOutputs(r: StepResult): string {
  const o = r.outputs as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof o.pid === 'number') parts.push(`pid ${o.pid}`);
  const s = (o.stats ?? {}) as Record<string, number>;
  if (typeof s.frozen_time === 'number') parts.push(`frozen ${formatDuration(s.frozen_time / 1000)}`);
  if (typeof s.pages_written === 'number') parts.push(`${s.pages_written} pages`);
  if (typeof s.image_bytes === 'number' && s.image_bytes > 0) parts.push(mib(s.image_bytes));
  if (typeof s.restore_time === 'number') parts.push(`restored in ${formatDuration(s.restore_time / 1000)}`);
  if (typeof s.pages_restored === 'number') parts.push(`${s.pages_restored} pages`);
  if (typeof o['exit-code'] === 'number') parts.push(`exit code ${o['exit-code']}`);
  if (typeof o.bytes === 'number') parts.push(mib(o.bytes));
  if (typeof o.dir === 'string' && r.kind !== 'restore') parts.push(`→ ${o.dir}`);
  if (typeof o.archive === 'string') parts.push(`→ ${o.archive}`);
  return parts.join(', ');
}

/** `isRunning` tells whether a restored pid still runs when the summary is printed. */
export function formatSummary(name: string, r: RunResult, isRunning: (pid: number) => boolean = running): string {
  const w = Math.max(4, ...r.steps.map((s) => s.name.length));
  const k = Math.max(4, ...r.steps.map((s) => s.kind.length));
  const head = r.ok ? `${name}: succeeded in ${formatDuration(r.durationMs)}` : r.cancelled ? `${name}: cancelled after ${formatDuration(r.durationMs)}` : `${name}: FAILED at step "${r.failedStep ?? '?'}" after ${formatDuration(r.durationMs)}`;
  const rows = r.steps.map((s) => {
    const time = s.outcome === 'skipped' ? 'skipped' : formatDuration(s.durationMs);
    const detail = [s.error, describeOutputs(s)].filter(Boolean).join('; ');
    const tries = s.attempts > 1 ? ` (${s.attempts} attempts)` : '';
    return `  ${MARK[s.outcome]} ${s.name.padEnd(w)}  ${s.kind.padEnd(k)}  ${time.padStart(7)}${tries}${detail ? `  ${detail}` : ''}`;
  });
  const restored = r.steps
    .filter((s) => s.kind === 'restore' && typeof s.outputs.pid === 'number')
    .map((s) => {
      const pid = s.outputs.pid as number;
      const state = typeof s.outputs['exit-code'] === 'number' ? `exited with code ${String(s.outputs['exit-code'])}` : isRunning(pid) ? 'still running' : 'no longer running';
      return `restored pid ${pid} (${s.name}): ${state}`;
    });
  return [head, ...rows, ...restored].join('\n');
}
