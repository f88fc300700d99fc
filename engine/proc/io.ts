// Shared plumbing of the /proc readers: one error shape for every parser and reader.
// Private to engine/proc (not re-exported by index.ts).
import { readFileSync } from 'node:fs';
import { RuntimeError } from '../../errors.ts';

/** A /proc file's text did not have the expected shape. */
export function parseError(file: string, what: string, text?: string): RuntimeError {
  const sample = text === undefined ? '' : `: ${JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text)}`;
  return new RuntimeError(`/proc/*/${file}: ${what}${sample}`);
}

/** A /proc file could not be read: usually the task is gone. */
export function ioError(path: string, cause: unknown): RuntimeError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new RuntimeError(`cannot read ${path}${code === undefined ? '' : ` (${code})`}`, {
    cause,
    hint: code === 'ENOENT' || code === 'ESRCH' ? 'the process has exited' : undefined,
  });
}

export function readProcText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw ioError(path, e);
  }
}

export function readProcBuffer(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw ioError(path, e);
  }
}

/** `/proc/PID` or `/proc/PID/task/TID`. */
export function taskDir(pid: number, tid?: number): string {
  return tid === undefined ? `/proc/${pid}` : `/proc/${pid}/task/${tid}`;
}

export function hex(file: string, s: string | undefined): bigint {
  if (s === undefined || !/^(0x)?[0-9a-fA-F]+$/.test(s)) throw parseError(file, `bad hex number ${JSON.stringify(s)}`);
  return BigInt(s.startsWith('0x') ? s : `0x${s}`);
}

export function int(file: string, s: string | undefined): number {
  if (s === undefined || !/^-?\d+$/.test(s)) throw parseError(file, `bad integer ${JSON.stringify(s)}`);
  return Number(s);
}

export function dec64(file: string, s: string | undefined): bigint {
  if (s === undefined || !/^-?\d+$/.test(s)) throw parseError(file, `bad integer ${JSON.stringify(s)}`);
  return BigInt(s);
}
