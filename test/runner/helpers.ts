// Small helpers for the runner tests.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { repoRoot } from '../../runner/paths.ts';

export const ROOT = repoRoot();
export const fixtures = (rel: string): string => join(ROOT, 'test', 'fixtures', 'workflows', rel);

export function tmp(t: TestContext, prefix = 'cryo-runner-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a workflow into `dir` and returns its path. */
export function workflow(dir: string, text: string, name = 'wf.yaml'): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Compares with a golden file; UPDATE_GOLDEN=1 rewrites it. */
export function golden(path: string, actual: string): { expected: string; actual: string } {
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(path)) writeFileSync(path, actual);
  return { expected: readFileSync(path, 'utf8'), actual };
}

export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
