// Helpers shared by the step kinds: typed access to resolved configuration, paths, summaries.
import { isAbsolute, resolve } from 'node:path';
import { found } from '../validate.ts';
import { StepError } from '../errors.ts';
import type { Value } from '../expr.ts';
import { plannedToPlain } from '../planned.ts';
import type { Planned } from '../types.ts';
import type { Progress } from '../../engine/index.ts';

export type Config = { readonly [k: string]: Value };

export function asConfig(v: Value): Config {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Config) : {};
}

// Values from `${{ }}` arrive as strings or numbers: convert, and say where a bad one came from.
export function int(c: Config, key: string, where: string): number | undefined {
  const v = c[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0) throw new StepError(`${where}.${key}: expected an integer, found ${found(v)}`);
  return n;
}

export function bool(c: Config, key: string, where: string): boolean {
  const v = c[key];
  if (v === undefined || v === null || v === '') return false;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new StepError(`${where}.${key}: expected true or false, found ${found(v)}`);
}

export function str(c: Config, key: string): string | undefined {
  const v = c[key];
  return v === undefined || v === null || v === '' ? undefined : typeof v === 'string' ? v : String(v);
}

export function path(base: string, p: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

/** One short line of a value for progress output: first line of text, long ones cut. */
export function short(v: unknown, max = 48): string {
  // argv: each word on one line (a multi-line script shows its first line).
  const word = (a: unknown): string => {
    const [first, ...more] = String(a).trim().split('\n');
    const w = more.length ? `${first} …` : first!;
    return /\s|^$/.test(w) ? `'${w}'` : w;
  };
  let text = typeof v === 'string' ? v : Array.isArray(v) ? v.map(word).join(' ') : JSON.stringify(v);
  const lines = text.trim().split('\n');
  text = lines[0]! + (lines.length > 1 ? ' …' : '');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `key=value` pairs of a planned block, templates shown as written, each value kept short. */
export function summarize(p: Planned, keys?: readonly string[]): string {
  const plain = plannedToPlain(p);
  if (plain === null || typeof plain !== 'object') return String(plain ?? '');
  return Object.entries(plain as Record<string, unknown>)
    .filter(([k]) => !keys || keys.includes(k))
    .map(([k, v]) => {
      // A spawned target is best told by its command.
      const command = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>).command : undefined;
      return `${k}=${short(command ?? v)}`;
    })
    .join(' ');
}

export function abortable(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((res, rej) => {
    if (signal.aborted) return rej(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      res();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      rej(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The engine's page progress as at most ~10 progress lines a second. */
export function pageProgress(ctx: { progress(text: string): void }): (p: Progress) => void {
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (now - last < 100 && p.pagesDone < p.pagesTotal) return;
    last = now;
    ctx.progress(`${p.phase === 'dump' ? 'dumping' : 'restoring'} pages ${p.pagesDone}/${p.pagesTotal}`);
  };
}

export function mib(bytes: number): string {
  return bytes < 1048576 ? `${(bytes / 1024).toFixed(0)} KiB` : `${(bytes / 1048576).toFixed(1)} MiB`;
}
