// The restore helper: a process cryo controls, from which the restored tasks are cloned with
// their old pids. It is /bin/sleep, started through a shell so that it is not one of libuv's
// children (libuv would reap its ptrace stops as exits); with cryo as child subreaper it is
// reparented to cryo, so CLONE_PARENT makes the restored root cryo's child.
import { execFileSync } from 'node:child_process';
import { RuntimeError } from '../errors.ts';
import { PTRACE_O, SIG, interrupt, isChildSubreaper, seize, sendSignal, setChildSubreaper, waitTask } from '../native/index.ts';
import { readStat, readSyscall } from './proc/index.ts';
import { killTraced } from './tree.ts';

export const RESTORE_PTRACE_OPTIONS = PTRACE_O.TRACESYSGOOD | PTRACE_O.TRACEFORK | PTRACE_O.TRACECLONE | PTRACE_O.EXITKILL;

const NANOSLEEP = new Set([35, 230]);

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface Helper {
  readonly pid: number;
  kill(): void;
}

/** Starts the helper and seizes it once it is idle in its own sleep (not in the dynamic loader). */
export function startHelper(): Helper {
  // Subreaper only while the helper is orphaned to us: a caller's later orphans stay init's.
  const wasSubreaper = isChildSubreaper();
  setChildSubreaper(true);
  let out: string;
  try {
    out = startSleeper();
  } catch (e) {
    if (!wasSubreaper) setChildSubreaper(false);
    throw e;
  }
  const pid = Number(out.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new RuntimeError(`restore helper did not start: ${out}`);
  try {
    waitIdle(pid);
  } catch (e) {
    sendSignal(pid, SIG.SIGKILL);
    throw e;
  } finally {
    if (!wasSubreaper) setChildSubreaper(false);
  }
  seize(pid, RESTORE_PTRACE_OPTIONS);
  interrupt(pid);
  waitTask(pid);
  return helperHandle(pid);
}

function startSleeper(): string {
  return execFileSync('/bin/sh', ['-c', 'sleep 1000000 </dev/null >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' });
}

/** Until the helper sleeps in nanosleep (not still in the dynamic loader) and is our child. */
function waitIdle(pid: number): void {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const sc = readSyscall(pid);
      if ('nr' in sc && NANOSLEEP.has(sc.nr) && readStat(pid).ppid === process.pid) break;
    } catch {
      /* not there yet */
    }
    if (Date.now() > deadline) throw new RuntimeError(`restore helper ${pid} did not settle`);
    sleepMs(2);
  }
}

function helperHandle(pid: number): Helper {
  return {
    pid,
    kill: () => killTraced([pid]),
  };
}

