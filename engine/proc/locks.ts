// File locks as the kernel prints them in /proc/locks and in /proc/PID/fdinfo/FD `lock:` lines
// (lock_get_status): `1: POSIX  ADVISORY  WRITE 5811 fe:00:2146892 10 29`, waiters with `->`.
import { dec64, int, parseError } from './io.ts';

export interface FileLock {
  /** POSIX (fcntl F_SETLK), FLOCK, OFDLCK (F_OFD_SETLK), LEASE, DELEG … */
  readonly kind: string;
  /** `->`: a waiter blocked on this lock, not a lock held. */
  readonly blocked: boolean;
  readonly mandatory: boolean;
  /** READ, WRITE or UNLCK (a lease being broken). */
  readonly type: string;
  /** Owner pid; -1 for OFD locks. */
  readonly pid: number;
  readonly major: number;
  readonly minor: number;
  readonly ino: number;
  readonly start: bigint;
  /** Last byte locked; null: to the end of the file (EOF). */
  readonly end: bigint | null;
}

export function parseLockLine(line: string): FileLock {
  const w = line.trim().split(/\s+/);
  if (!/^\d+:$/.test(w[0] ?? '')) throw parseError('locks', 'no lock id', line);
  const blocked = w[1] === '->';
  const [kind, mand, type, pid, where, start, end] = w.slice(blocked ? 2 : 1);
  const m = /^([0-9a-f]+):([0-9a-f]+):(\d+)$/.exec(where ?? '');
  if (kind === undefined || m === null || end === undefined) throw parseError('locks', 'bad lock line', line);
  return {
    kind,
    blocked,
    mandatory: mand === 'MANDATORY',
    type: type!,
    pid: int('locks', pid),
    major: parseInt(m[1]!, 16),
    minor: parseInt(m[2]!, 16),
    ino: Number(m[3]),
    start: dec64('locks', start),
    end: end === 'EOF' ? null : dec64('locks', end),
  };
}

/** Every line of /proc/locks. */
export function parseLocks(text: string): FileLock[] {
  return text.split('\n').filter((l) => l.trim() !== '').map(parseLockLine);
}
