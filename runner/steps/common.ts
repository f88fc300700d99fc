// Helpers shared by the step kinds: typed access to resolved configuration, paths, summaries.
import { isAbsolute, resolve } from 'node:path';
import { found } from '../validate.ts';
import { StepError } from '../errors.ts';
import type { Value } from '../expr.ts';
import { plannedToPlain } from '../planned.ts';
import type { Planned } from '../types.ts';

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

/** `key=value` pairs of a planned block, templates shown as written. */
export function summarize(p: Planned, keys?: readonly string[]): string {
  const plain = plannedToPlain(p);
  if (plain === null || typeof plain !== 'object') return String(plain ?? '');
  return Object.entries(plain as Record<string, unknown>)
    .filter(([k]) => !keys || keys.includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
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
