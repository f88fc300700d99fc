// Small helpers for the runner tests.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
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

/** This process's children (zombies included), from /proc: what the tests left behind. */
export function ownChildren(): { pid: number; state: string; comm: string }[] {
  const out: { pid: number; state: string; comm: string }[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    let text = '';
    try {
      text = readFileSync(`/proc/self/task/${tid}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const p of text.split(' ').filter(Boolean).map(Number)) {
      try {
        const m = /^\d+ \((.*)\) (\S)/s.exec(readFileSync(`/proc/${p}/stat`, 'utf8'));
        out.push({ pid: p, state: m?.[2] ?? '?', comm: m?.[1] ?? '?' });
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

/** Registers a check, after every test of the file, that no child process of the tests is left. */
export function checkNoChildrenLeft(): void {
  after(async () => {
    // libuv reaps its own children asynchronously: give it a moment.
    for (let i = 0; i < 50 && ownChildren().length; i++) await sleep(20);
    assert.deepEqual(ownChildren(), [], 'processes left behind by the tests');
  });
}
