// /proc/PID/status: "Key:\tvalue" lines.
import { hex, int, parseError, readProcText, taskDir } from './io.ts';

export type IdQuad = readonly [real: number, effective: number, saved: number, fs: number];

export interface ProcStatus {
  readonly name: string;
  readonly state: string;
  readonly tgid: number;
  readonly pid: number;
  readonly ppid: number;
  readonly tracerPid: number;
  readonly uid: IdQuad;
  readonly gid: IdQuad;
  readonly groups: readonly number[];
  readonly sigPnd: bigint;
  readonly shdPnd: bigint;
  readonly sigBlk: bigint;
  readonly sigIgn: bigint;
  readonly sigCgt: bigint;
  readonly capInh: bigint;
  readonly capPrm: bigint;
  readonly capEff: bigint;
  readonly capBnd: bigint;
  readonly capAmb: bigint;
  readonly noNewPrivs: number;
  readonly seccomp: number;
  readonly threads: number;
  /** Absent on kernels before 4.7. */
  readonly umask: number | undefined;
  /** Pid in each pid namespace, outermost first. */
  readonly nsPid: readonly number[];
  readonly nsTgid: readonly number[];
}

export function parseStatus(text: string): ProcStatus {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    // only the tab goes: a comm may start or end with spaces
    if (colon > 0) kv.set(line.slice(0, colon), line.slice(colon + 1).replace(/^\t/, ''));
  }
  const get = (k: string): string => {
    const v = kv.get(k);
    if (v === undefined) throw parseError('status', `missing ${k}`);
    return v.trim();
  };
  const num = (k: string): number => int('status', get(k));
  const mask = (k: string): bigint => hex('status', get(k));
  const list = (k: string): number[] => {
    const v = (kv.get(k) ?? '').trim();
    return v === '' ? [] : v.split(/\s+/).map((s) => int('status', s));
  };
  const quad = (k: string): IdQuad => {
    const v = list(k);
    if (v.length !== 4) throw parseError('status', `${k} needs 4 ids`, get(k));
    return [v[0]!, v[1]!, v[2]!, v[3]!];
  };
  const umask = kv.get('Umask');
  return {
    name: kv.get('Name') ?? '',
    state: get('State').split(' ')[0] ?? '',
    tgid: num('Tgid'),
    pid: num('Pid'),
    ppid: num('PPid'),
    tracerPid: num('TracerPid'),
    uid: quad('Uid'),
    gid: quad('Gid'),
    groups: list('Groups'),
    sigPnd: mask('SigPnd'),
    shdPnd: mask('ShdPnd'),
    sigBlk: mask('SigBlk'),
    sigIgn: mask('SigIgn'),
    sigCgt: mask('SigCgt'),
    capInh: mask('CapInh'),
    capPrm: mask('CapPrm'),
    capEff: mask('CapEff'),
    capBnd: mask('CapBnd'),
    capAmb: mask('CapAmb'),
    noNewPrivs: num('NoNewPrivs'),
    seccomp: num('Seccomp'),
    threads: num('Threads'),
    umask: umask === undefined ? undefined : parseInt(umask.trim(), 8),
    nsPid: list('NSpid'),
    nsTgid: list('NStgid'),
  };
}

export function readStatus(pid: number, tid?: number): ProcStatus {
  return parseStatus(readProcText(`${taskDir(pid, tid)}/status`));
}
