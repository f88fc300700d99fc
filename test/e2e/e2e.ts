// Shared by the end-to-end tests: drive `cryo dump`/`cryo restore` as child processes and look
// at the tasks through /proc afterwards. Nothing here restores in-process: libuv in the test
// process would reap a restored task that reuses a pid it once knew.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { runCryo } from '../helpers/cryo.ts';
import type { CryoRun, CryoRunOptions } from '../helpers/cryo.ts';
import { repoRoot } from '../helpers/repo.ts';
import { buildTarget, fileSize, parseReport, requestReport, startTarget, waitForFileLine } from '../helpers/targets.ts';
import type { Target } from '../helpers/targets.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The system Python (not a pyenv shim: one exec less, and the same binary everywhere). */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** The last complete line of a log file ('' if none). */
export function lastLine(path: string): string {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  return text.slice(0, text.lastIndexOf('\n')).split('\n').at(-1) ?? '';
}

/** Fields of /proc/PID/status we look at, or undefined when the pid is gone. */
export interface TaskStatus {
  readonly state: string; // one letter: R S D T t Z …
  readonly ppid: number;
  readonly tracerPid: number;
  readonly name: string;
}

export function taskStatus(pid: number, tid?: number): TaskStatus | undefined {
  let text: string;
  try {
    text = readFileSync(tid === undefined ? `/proc/${pid}/status` : `/proc/${pid}/task/${tid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (k: string): string => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(text)?.[1] ?? '';
  return { state: field('State').charAt(0), ppid: Number(field('PPid')), tracerPid: Number(field('TracerPid')), name: field('Name') };
}

/** Sorted tids of /proc/PID/task. */
export function taskTids(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`)
    .map(Number)
    .sort((a, b) => a - b);
}

/** A pid that no process or thread uses right now. */
export function unusedPid(): number {
  const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  for (let p = max - 1; p > 1000; p--) if (!existsSync(`/proc/${p}`)) return p;
  throw new Error('no free pid');
}

/** True when nothing (not even a zombie) holds `pid`. */
export function pidFree(pid: number): boolean {
  return !existsSync(`/proc/${pid}`);
}

/** Asserts the task runs as if nothing happened: alive, not stopped, not traced. */
export function assertUntouched(pid: number, what = `pid ${pid}`): void {
  const st = taskStatus(pid);
  assert.ok(st, `${what} is gone`);
  assert.ok(st.state === 'S' || st.state === 'R', `${what} is in state ${st.state}, expected S or R`);
  assert.equal(st.tracerPid, 0, `${what} is still traced by ${st.tracerPid}`);
}

/** Waits until `pid` is gone or a zombie; returns the zombie's wait status when seen (field 52 of stat). */
export async function waitDead(pid: number, timeoutMs = 5000): Promise<{ zombieStatus?: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let stat: string | undefined;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return {};
    }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return { zombieStatus: Number(rest[rest.length - 1]) };
    if (Date.now() > deadline) throw new Error(`pid ${pid} still alive after ${timeoutMs} ms (state ${rest[0]})`);
    await sleep(10);
  }
}

/** Runs cryo and fails with its output unless it exits 0. */
export async function cryoOk(args: readonly string[], opts?: CryoRunOptions): Promise<CryoRun> {
  const r = await runCryo(args, opts);
  assert.equal(r.code, 0, `cryo ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr}${r.stdout}`);
  return r;
}

/** `cryo dump -t PID -D DIR` (+ extra options), expected to succeed. */
export function dumpOk(pid: number, dir: string, extra: readonly string[] = [], opts?: CryoRunOptions): Promise<CryoRun> {
  return cryoOk(['dump', '-t', String(pid), '-D', dir, '-o', 'dump.log', '-v4', ...extra], opts);
}

/** `cryo restore -d -D DIR` (+ extra options), expected to succeed. */
export function restoreDetached(dir: string, extra: readonly string[] = []): Promise<CryoRun> {
  return cryoOk(['restore', '-d', '-D', dir, '-o', 'restore.log', '-v4', ...extra]);
}

/** Waits for the spawned target to die from the dump (the default: the task is killed after it). */
export async function waitDumpedGone(target: Target): Promise<void> {
  const r = await Promise.race([target.exited, sleep(5000).then(() => undefined)]);
  assert.ok(r, `dumped pid ${target.pid} still runs`);
}

/** A counter target: its reports, and helpers to see it advance. */
export interface Counter {
  readonly target: Target;
  readonly log: string;
  report(): Promise<Record<string, string>>;
  /** Asserts that new reports come, counting past `after`, with the same token and mem=ok; returns the report. */
  assertAdvancing(after: number, token: string): Promise<Record<string, string>>;
}

/** Starts the counter target (stopped after `t` when given, else when the file's tests end). */
export async function startCounter(dir: string, t: TestContext | undefined, mib = 8): Promise<Counter> {
  const log = join(dir, 'counter.log');
  const target = await startTarget([buildTarget('counter'), log, String(mib)], { t, readyTimeoutMs: 30_000 });
  await waitForFileLine(log, (l) => l.startsWith('count='), 5000);
  const report = async (): Promise<Record<string, string>> => parseReport(await requestReport(target.pid, log));
  return {
    target,
    log,
    report,
    async assertAdvancing(after, token) {
      // Only lines written from now on: the task must be counting now, not just have counted.
      const line = await waitForFileLine(log, (l) => Number(parseReport(l)['count']) > after + 5, 5000, { since: fileSize(log) });
      const r = parseReport(line);
      assert.equal(r['token'], token, 'token changed');
      assert.equal(r['mem'], 'ok', `memory check failed: ${line}`);
      return r;
    },
  };
}

/** Spawns the CLI directly, for tests that need its pid (to kill it, or because it execs). */
export function spawnCryo(args: readonly string[], t: TestContext): ChildProcess & { done: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, [join(repoRoot(), 'bin', 'cryo.js'), ...args], {
    cwd: repoRoot(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: null, signal: null }));
  });
  Object.defineProperty(child, 'output', { get: () => out });
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await done;
    }
  });
  return Object.assign(child, { done });
}

/** What the CLI spawned by spawnCryo printed so far. */
export function cryoOutput(child: ChildProcess): string {
  return (child as unknown as { output: string }).output;
}

/** Kills a process that is not our child (a restored task) when the test ends, if it is still `comm`. */
export function killAtEnd(t: TestContext, pid: number, comm: string): void {
  t.after(async () => {
    const st = taskStatus(pid);
    if (st === undefined || st.name !== comm) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    await waitDead(pid).catch(() => undefined);
  });
}
