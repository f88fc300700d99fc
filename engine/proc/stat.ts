// /proc/PID/stat and /proc/PID/task/TID/stat, field numbers as in proc(5).
import { dec64, int, parseError, readProcText, taskDir } from './io.ts';

export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly session: number;
  readonly ttyNr: number;
  readonly tpgid: number;
  readonly flags: number;
  readonly nice: number;
  readonly numThreads: number;
  /** Clock ticks after boot. */
  readonly startTime: bigint;
  readonly startCode: bigint;
  readonly endCode: bigint;
  readonly startStack: bigint;
  readonly exitSignal: number;
  readonly startData: bigint;
  readonly endData: bigint;
  readonly startBrk: bigint;
  readonly argStart: bigint;
  readonly argEnd: bigint;
  readonly envStart: bigint;
  readonly envEnd: bigint;
  readonly exitCode: number;
}

export function parseStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')'); // comm may itself contain ") ("
  if (open < 1 || close < open) throw parseError('stat', 'missing (comm)', text);
  // f[n] is proc(5)'s field n+3: f[0] = (3) state
  const f = text.slice(close + 2).trimEnd().split(' ');
  if (f.length < 50) throw parseError('stat', `expected 52 fields, got ${f.length + 2}`, text);
  const at = (n: number): string | undefined => f[n - 3];
  const n = (k: number): number => int('stat', at(k));
  const b = (k: number): bigint => dec64('stat', at(k));
  return {
    pid: int('stat', text.slice(0, open - 1)),
    comm: text.slice(open + 1, close),
    state: f[0] ?? '',
    ppid: n(4),
    pgrp: n(5),
    session: n(6),
    ttyNr: n(7),
    tpgid: n(8),
    flags: n(9),
    nice: n(19),
    numThreads: n(20),
    startTime: b(22),
    startCode: b(26),
    endCode: b(27),
    startStack: b(28),
    exitSignal: n(38),
    startData: b(45),
    endData: b(46),
    startBrk: b(47),
    argStart: b(48),
    argEnd: b(49),
    envStart: b(50),
    envEnd: b(51),
    exitCode: n(52),
  };
}

export function readStat(pid: number, tid?: number): ProcStat {
  return parseStat(readProcText(`${taskDir(pid, tid)}/stat`));
}
