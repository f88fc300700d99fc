// Processes a caller (the runner) starts to be dumped (`dump: spawn:`), and restored roots: never libuv
// children. libuv's SIGCHLD handler calls waitpid(pid) for every child_process handle it still
// holds; the engine reaps a dumped child itself (it is its tracer and parent), so libuv's handle
// for that pid stays open and would reap the RESTORED process with the same pid, losing its exit
// status (RestoredTree.wait() then fails with ECHILD). So targets are started with a double fork
// (sh → setsid CMD &, sh exits): cryo, a child subreaper (as the engine's restore makes it anyway),
// inherits the orphan, and the runner reaps it by pid — never waitpid(-1), which would steal the
// exit of a `run` step's process from libuv.
import { readFileSync } from 'node:fs';
import { SIG, WAIT, sendSignal, setChildSubreaper, waitTask } from '../native/index.ts';
import { RuntimeError } from '../errors.ts';
import { childProcess } from './lazy-builtins.ts';

export interface DetachedOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** stdout and stderr are appended here: a file or /dev/null, never a pipe (a dump refuses sockets, and a pipe to cryo dies with it). */
  readonly output: string;
}

export type ExitStatus = { readonly code: number | null; readonly signal: number | null };

/**
 * Starts argv in its own session with stdin from /dev/null and output to a file, as a child of
 * this process but not of libuv. Returns its pid.
 */
export function startDetached(argv: readonly string[], opts: DetachedOptions): number {
  setChildSubreaper();
  let out: string;
  try {
    // $1 is the output file, the rest is argv, passed as arguments: no quoting of user text.
    out = childProcess().execFileSync('/bin/sh', ['-c', 'o=$1; shift; setsid "$@" </dev/null >>"$o" 2>&1 & echo $!', 'sh', opts.output, ...argv], {
      cwd: opts.cwd,
      env: opts.env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    throw new RuntimeError(`cannot start ${JSON.stringify(argv.join(' '))}: ${(e as Error).message}`);
  }
  const pid = Number(out.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new RuntimeError(`cannot start ${JSON.stringify(argv.join(' '))}: no pid (${JSON.stringify(out)})`);
  return pid;
}

/**
 * The exit status of a child the runner started, reaping it, without blocking: undefined while it
 * runs; `gone` when it is not (or no longer) this process's child: someone else reaped it (the
 * engine does, for a dumped tree it killed).
 */
export function tryReap(pid: number): ExitStatus | 'gone' | undefined {
  try {
    const st = waitTask(pid, WAIT.WNOHANG);
    if (st.kind === 'exited') return { code: st.code, signal: null };
    if (st.kind === 'signaled') return { code: null, signal: st.signal };
    return undefined;
  } catch {
    return 'gone';
  }
}

/** SIGKILL and reap (waits at most `ms` for the exit). */
export async function killAndReap(pid: number, ms = 2000): Promise<void> {
  sendSignal(pid, SIG.SIGKILL);
  const deadline = Date.now() + ms;
  while (tryReap(pid) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

export function describeStatus(s: ExitStatus): string {
  return s.code !== null ? `exit status ${s.code}` : `killed by signal ${s.signal}`;
}

/** Whether pid is alive (not a zombie). */
export function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX] /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Pids one run started or restored. At the end of the run those that have exited are reaped (a
 * detached service killed by a `finally` step would otherwise stay a zombie of cryo); those still
 * running are left alone: a detached restore is meant to outlive the run.
 */
export class Children {
  readonly #pids = new Set<number>();

  add(pid: number): void {
    this.#pids.add(pid);
  }

  /** Someone else reaped it (a dump that killed it): never waitpid() that pid again, it may be reused. */
  forget(pid: number): void {
    this.#pids.delete(pid);
  }

  /** Reaps every exited one; waits up to `ms` for ones just killed (SIGKILL is not instant). */
  async reapExited(ms = 500): Promise<void> {
    const deadline = Date.now() + ms;
    for (const pid of this.#pids) {
      for (;;) {
        const r = tryReap(pid);
        if (r !== undefined) {
          this.#pids.delete(pid);
          break;
        }
        if (running(pid) || Date.now() > deadline) break;
        await new Promise((res) => setTimeout(res, 10));
      }
    }
  }
}
