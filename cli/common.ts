// Options and output shared by the CLI commands: CRIU's logging options, progress on a
// terminal, the stats summary.
import { mkdirSync } from 'node:fs';
import type { Argv } from 'yargs';
import { InputError } from '../errors.ts';
import type { Logger, LogLevel, Progress } from '../engine/index.ts';

export interface LogArgs {
  readonly verbosity?: number;
  readonly 'log-file'?: string;
}

/** `-o/--log-file` and `--verbosity` (the `-v…` forms are rewritten in main.ts). */
export function withLogOptions<T>(y: Argv<T>): Argv<T & LogArgs> {
  return y
    .option('log-file', { alias: 'o', type: 'string', describe: 'log file (default: stderr; `-` = stdout)' })
    .option('verbosity', { type: 'number', describe: 'log level 0-4 (-v0..-v4; -v, -vv raise the default 2)' }) as Argv<T & LogArgs>;
}

/** `dir` is the images directory; `create` makes it (dump) so that a relative log file can live there. */
export async function loggerFor(args: LogArgs, dir?: string, create = false): Promise<Logger> {
  // Imported here, not at the top: the commands that log load the engine, the others need not.
  const { createLogger } = await import('../engine/index.ts');
  const level = Math.max(0, Math.min(4, args.verbosity ?? 2)) as LogLevel;
  let file = args['log-file'];
  // CRIU: a relative log file is relative to the images (work) directory.
  if (file && file !== '-' && !file.startsWith('/') && dir) {
    if (create) mkdirSync(dir, { recursive: true });
    file = `${dir}/${file}`;
  }
  try {
    return createLogger({ level, file });
  } catch (e) {
    throw new InputError(`can't open log file ${file}: ${(e as Error).message}`);
  }
}

/** A one-line progress display on a terminal (stderr); nothing off a terminal. */
export function progressReporter(label: string): { onProgress?: (p: Progress) => void; done(): void } {
  if (!process.stderr.isTTY) return { done: () => undefined };
  const t0 = performance.now();
  let last = 0;
  let shown = false;
  return {
    onProgress(p) {
      const now = performance.now();
      if (now - last < 100 && p.pagesDone < p.pagesTotal) return;
      last = now;
      const mib = (p.pagesDone * 4096) / 2 ** 20;
      const total = (p.pagesTotal * 4096) / 2 ** 20;
      const secs = (now - t0) / 1000;
      const rate = secs > 0 ? mib / secs : 0;
      const eta = rate > 0 ? (total - mib) / rate : 0;
      const pct = p.pagesTotal ? Math.floor((100 * p.pagesDone) / p.pagesTotal) : 100;
      process.stderr.write(`\r${label}: ${pct}% ${p.pagesDone}/${p.pagesTotal} pages, ${mib.toFixed(0)}/${total.toFixed(0)} MiB, ${rate.toFixed(0)} MiB/s, ${eta.toFixed(1)} s left  `);
      shown = true;
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

export function fmtUs(us: number): string {
  return us >= 1e6 ? `${(us / 1e6).toFixed(2)} s` : `${(us / 1e3).toFixed(1)} ms`;
}

export function fmtBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}
