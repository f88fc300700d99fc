// The restore helper: a process cryo controls, from which the restored tasks are cloned with
// their old pids. It is /bin/sleep, cryo's child by posix_spawn (not one of libuv's children:
// libuv would reap its ptrace stops as exits), so CLONE_PARENT makes the restored root cryo's
// child. (It used to be started through a shell and reparented to cryo as child subreaper:
// ~6 ms of every restore, against ~1 ms.)
import { existsSync } from 'node:fs';
import { RuntimeError } from '../errors.ts';
import { PTRACE_O, SIG, interrupt, seize, sendSignal, spawnPlainChild, waitTask } from '../native/index.ts';
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
  const pid = spawnPlainChild([SLEEP, '1000000']);
  try {
    waitIdle(pid);
  } catch (e) {
    killChild(pid);
    throw e;
  }
  seize(pid, RESTORE_PTRACE_OPTIONS);
  interrupt(pid);
  waitTask(pid);
  return helperHandle(pid);
}

const SLEEP = ['/bin/sleep', '/usr/bin/sleep'].find((p) => existsSync(p)) ?? '/bin/sleep';

/** Until the helper sleeps in nanosleep (not still in the dynamic loader). */
function waitIdle(pid: number): void {
  const deadline = Date.now() + 5000;
  for (;;) {
    if (inNanosleep(pid)) break;
    if (readStat(pid).state === 'Z') throw new RuntimeError(`restore helper ${pid} (${SLEEP}) exited at once`);
    if (Date.now() > deadline) throw new RuntimeError(`restore helper ${pid} did not settle`);
    sleepMs(0.2);
  }
}

function inNanosleep(pid: number): boolean {
  try {
    const sc = readSyscall(pid);
    return 'nr' in sc && NANOSLEEP.has(sc.nr);
  } catch {
    return false; // not there yet (exec under way)
  }
}

/** A child that is not traced: killed and reaped. */
function killChild(pid: number): void {
  sendSignal(pid, SIG.SIGKILL);
  waitTask(pid);
}

function helperHandle(pid: number): Helper {
  return {
    pid,
    kill: () => killTraced([pid]),
  };
}

