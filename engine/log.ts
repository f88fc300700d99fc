// CRIU-style leveled logging: -v0 nothing, -v1 errors, -v2 +warnings (default), -v3 +info with
// timestamps, -v4 +debug. Messages go to a log file (`-o`) or stderr.
import { openSync, writeSync, closeSync } from 'node:fs';

export type LogLevel = 0 | 1 | 2 | 3 | 4;

export interface Logger {
  readonly level: LogLevel;
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  /** The fd messages are written to (action scripts inherit it as stdout/stderr). */
  readonly fd: number;
  close(): void;
}

export function createLogger(opts: { level?: LogLevel; file?: string | undefined } = {}): Logger {
  const level = opts.level ?? 2;
  const fd = opts.file && opts.file !== '-' ? openSync(opts.file, 'a', 0o600) : opts.file === '-' ? 1 : 2;
  const t0 = process.hrtime.bigint();
  const line = (min: LogLevel, prefix: string, msg: string): void => {
    if (level < min) return;
    const ts = level >= 3 ? `(${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(6).padStart(12)}) ` : '';
    try {
      writeSync(fd, `${ts}${prefix}${msg}\n`);
    } catch {
      /* a closed log must never break a dump */
    }
  };
  return {
    level,
    fd,
    error: (m) => line(1, 'Error: ', m),
    warn: (m) => line(2, 'Warn:  ', m),
    info: (m) => line(3, '', m),
    debug: (m) => line(4, '', m),
    close: () => {
      if (fd > 2) closeSync(fd);
    },
  };
}

export const silentLogger: Logger = createLogger({ level: 0 });

/**
 * The log's last line for a failed dump or restore (`verdict`: "Dumping FAILED"). Its caller
 * reports the error itself, on stderr: a log there too gets only the verdict, not the same
 * message twice; a log file keeps the message.
 */
export function logFailure(log: Logger, verdict: string, e: unknown): void {
  log.error(log.fd === 2 ? `${verdict}.` : `${verdict}: ${e instanceof Error ? e.message : String(e)}`);
}
