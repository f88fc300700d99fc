// Live helpers: a counter process (test/targets/counter.c) started with no pipe to us, so the
// engine can dump it, and killed at the end of the test whatever happened (restored or not).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { buildTarget } from '../helpers/targets.ts';
import { sleep } from './helpers.ts';

export interface Counter {
  readonly pid: number;
  /** Last `count=` reported in the log. */
  count(): number;
}

export function lastCount(log: string): number {
  if (!existsSync(log)) return 0;
  const m = [...readFileSync(log, 'utf8').matchAll(/count=(\d+)/g)].at(-1);
  return m ? Number(m[1]) : 0;
}

export function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

export async function startCounter(t: TestContext, log: string): Promise<Counter> {
  const child = spawn(buildTarget('counter'), [log, '1'], { detached: true, stdio: 'ignore' });
  const pid = child.pid!;
  child.unref();
  // Also kills a restored process that took the same pid.
  t.after(() => killPid(pid));
  for (let i = 0; i < 500 && lastCount(log) === 0; i++) await sleep(10);
  if (lastCount(log) === 0) throw new Error('counter did not start');
  return { pid, count: () => lastCount(log) };
}
