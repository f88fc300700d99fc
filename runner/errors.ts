// The runner's errors. An invalid workflow carries every issue found, each pointing into the file;
// a failed run names the step, and keeps the exit code of what failed it (a hook veto, a bad image…).
import { CryoError, EXIT, RuntimeError } from '../errors.ts';
import type { Pos } from './load.ts';

export interface Issue {
  readonly file: string;
  readonly pos: Pos;
  /** "where: what was expected, what was found". */
  readonly message: string;
  /** The source text, for the code frame (absent when there is no file, e.g. --input). */
  readonly text?: string | undefined;
}

export class WorkflowInvalidError extends CryoError {
  readonly exitCode: number = EXIT.INVALID;
  readonly issues: readonly Issue[];
  constructor(issues: readonly Issue[], opts: { hint?: string } = {}) {
    super(formatIssues(issues), opts);
    this.issues = issues;
  }
}

export class WorkflowFailedError extends CryoError {
  readonly exitCode: number;
  readonly step: string;
  constructor(step: string, cause: unknown, opts: { hint?: string | undefined } = {}) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`step "${step}" failed: ${why}`, { cause, hint: opts.hint ?? (cause instanceof CryoError ? cause.hint : undefined) });
    this.step = step;
    this.exitCode = cause instanceof CryoError && cause.exitCode !== EXIT.INVALID ? cause.exitCode : EXIT.RUNTIME;
  }
}

/** Ctrl-C stopped the run: exits 130 like a shell job killed by SIGINT (128 + 2). */
export class WorkflowCancelledError extends CryoError {
  readonly exitCode: number = 130;
  readonly step: string;
  constructor(step: string, opts: { hint?: string | undefined } = {}) {
    super(`cancelled (Ctrl-C) during step "${step}"`, { hint: opts.hint });
    this.step = step;
  }
}

/** A step that failed at run time (exit status, timeout, bad resolved value). */
export class StepError extends RuntimeError {}

export function formatIssues(issues: readonly Issue[]): string {
  const n = issues.length;
  const head = `${n} problem${n === 1 ? '' : 's'} found`;
  return [head, ...issues.map(formatIssue)].join('\n\n');
}

/** `file:line:col  message` then a 3-line code frame with a caret under the column. */
export function formatIssue(issue: Issue): string {
  const { line, col } = issue.pos;
  const head = `${issue.file}:${line}:${col}  ${issue.message}`;
  if (issue.text === undefined) return head;
  return `${head}\n${codeFrame(issue.text, line, col)}`;
}

export function codeFrame(text: string, line: number, col: number): string {
  const lines = text.split(/\r?\n/);
  const width = String(line).length;
  const row = (n: number): string => `${String(n).padStart(width + 2)} | ${lines[n - 1] ?? ''}`;
  const out: string[] = [];
  if (line > 1) out.push(row(line - 1));
  out.push(row(line));
  // Keep tabs under tabs so the caret lines up in a terminal.
  const pad = (lines[line - 1] ?? '').slice(0, col - 1).replace(/[^\t]/g, ' ');
  out.push(`${' '.repeat(width + 2)} | ${pad}^`);
  return out.join('\n');
}
