// Fault injection for the failure-safety tests: CRYO_FAIL_AT=<stage> makes a dump fail right
// there, so tests can prove that every stage rolls back to tasks running as before.
import { RuntimeError } from '../errors.ts';

export const DUMP_FAULT_POINTS = ['seized', 'injecting', 'collected', 'fds', 'memory', 'images'] as const;
export type DumpFaultPoint = (typeof DUMP_FAULT_POINTS)[number];

export function faultPoint(stage: DumpFaultPoint): void {
  if (process.env.CRYO_FAIL_AT === stage) throw new RuntimeError(`injected failure at stage ${stage} (CRYO_FAIL_AT)`);
}
