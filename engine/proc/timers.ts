// /proc/PID/timers: the POSIX timers (timer_create) of a process, four lines each.
import { hex, int, parseError, readProcText } from './io.ts';

export interface PosixTimerInfo {
  readonly id: number;
  readonly signo: number;
  /** sigev_value (as a pointer). */
  readonly sigval: bigint;
  /** SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD (the last only from glibc's helper thread). */
  readonly notify: 'signal' | 'none' | 'thread';
  /** SIGEV_THREAD_ID: the signal goes to thread `notifyPid`. */
  readonly notifyThreadId: boolean;
  readonly notifyPid: number;
  readonly clockId: number;
}

export function parseTimers(text: string): PosixTimerInfo[] {
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines.length % 4 !== 0) throw parseError('timers', 'expected 4 lines per timer', text);
  const out: PosixTimerInfo[] = [];
  for (let i = 0; i < lines.length; i += 4) {
    const id = /^ID: (-?\d+)$/.exec(lines[i]!);
    const sig = /^signal: (\d+)\/([0-9a-f]+)$/.exec(lines[i + 1]!);
    const notify = /^notify: (signal|none|thread)\/(pid|tid)\.(\d+)$/.exec(lines[i + 2]!);
    const clock = /^ClockID: (-?\d+)$/.exec(lines[i + 3]!);
    if (id === null || sig === null || notify === null || clock === null) throw parseError('timers', 'bad timer', lines.slice(i, i + 4).join('\n'));
    out.push({
      id: int('timers', id[1]),
      signo: int('timers', sig[1]),
      sigval: hex('timers', sig[2]),
      notify: notify[1] as PosixTimerInfo['notify'],
      notifyThreadId: notify[2] === 'tid',
      notifyPid: int('timers', notify[3]),
      clockId: int('timers', clock[1]),
    });
  }
  return out.sort((a, b) => a.id - b.id);
}

export function readTimers(pid: number): PosixTimerInfo[] {
  return parseTimers(readProcText(`/proc/${pid}/timers`));
}
