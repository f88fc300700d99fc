// Fault injection for the failure-safety tests: CRYO_FAIL_AT=<stage> makes a dump fail right
// there, CRYO_KILL_AT=<point> makes cryo die there (SIGKILL: nothing cleaned up, as if killed by an
// operator or the OOM killer), so tests can prove that every stage leaves tasks running as before.
import { RuntimeError } from '../errors.ts';

export const DUMP_FAULT_POINTS = ['seized', 'injecting', 'collected', 'fds', 'memory', 'images'] as const;
export type DumpFaultPoint = (typeof DUMP_FAULT_POINTS)[number];

/**
 * Where cryo may be killed besides the stages: in the middle of the injections that give a large
 * task its pages image and helper thread (writePagesByTask) and of the snapshot's fork.
 */
export const DUMP_KILL_POINTS = [...DUMP_FAULT_POINTS, 'task-pages-setup', 'task-pages-helper', 'task-pages-teardown', 'snapshot-copy'] as const;
export type DumpKillPoint = (typeof DUMP_KILL_POINTS)[number];

export function faultPoint(stage: DumpFaultPoint): void {
  killPoint(stage);
  if (process.env.CRYO_FAIL_AT === stage) throw new RuntimeError(`injected failure at stage ${stage} (CRYO_FAIL_AT)`);
}

export function killPoint(point: DumpKillPoint): void {
  if (process.env.CRYO_KILL_AT === point) process.kill(process.pid, 'SIGKILL');
}

let callsEntered = 0;

/**
 * CRYO_KILL_AT=in-call:N: cryo dies as the N-th call through a dump's guard code (a batch or a
 * clone) is about to run — the thread set up at cryo's code, not yet let go.
 */
export function killInCall(): void {
  const at = /^in-call:(\d+)$/.exec(process.env.CRYO_KILL_AT ?? '');
  if (at && ++callsEntered === Number(at[1])) process.kill(process.pid, 'SIGKILL');
}
