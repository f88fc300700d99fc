// Live helpers: a counter process (test/targets/counter.c) started with no pipe to us, so the
// engine can dump it, and killed (and reaped) at the end of the test whatever happened (restored
// or not). It is started like the runner's `dump: spawn:` (a double fork, not a libuv child), so
// that libuv cannot reap a restored process that has the counter's pid.
import { existsSync, readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { buildTarget } from '../helpers/targets.ts';
import { sleep } from './helpers.ts';
import { killAndReap, startDetached } from '../../engine/index.ts';

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

/** SIGKILL, and reap it if it is this process's child (a restored pid is). */
export async function killPid(pid: number): Promise<void> {
  await killAndReap(pid);
}

export async function startCounter(t: TestContext, log: string): Promise<Counter> {
  const pid = startDetached([buildTarget('counter'), log, '1'], { cwd: '/', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, output: '/dev/null' });
  // Also kills a restored process that took the same pid.
  t.after(() => killPid(pid));
  for (let i = 0; i < 500 && lastCount(log) === 0; i++) await sleep(10);
  if (lastCount(log) === 0) throw new Error('counter did not start');
  return { pid, count: () => lastCount(log) };
}
