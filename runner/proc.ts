// Child processes of steps and hooks: each in its own process group (detached), so a timeout or
// Ctrl-C can kill everything it started — grandchildren included — with one kill(-pgid).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ProcResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process group was killed because `signal` was aborted. */
  readonly aborted: boolean;
}

export interface ProcOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal | undefined;
  readonly onLine?: ((stream: 'stdout' | 'stderr', line: string) => void) | undefined;
  /** Time between SIGTERM and SIGKILL of the group. */
  readonly graceMs?: number;
}

export function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* already gone */
  }
}

export function runProcess(argv: readonly string[], opts: ProcOptions): Promise<ProcResult> {
  return new Promise((resolveP, reject) => {
    if (opts.signal?.aborted) {
      resolveP({ code: null, signal: null, aborted: true });
      return;
    }
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      if (child.pid === undefined) return;
      aborted = true;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), opts.graceMs ?? 2000);
      killTimer.unref();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: child[stream] }).on('line', (l) => opts.onLine?.(stream, l));
    }
    child.on('error', (e) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort);
      // A killed group must be gone entirely, even members that ignored SIGTERM.
      if (aborted && child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      if (killTimer) clearTimeout(killTimer);
      // Background children may keep our pipes open: don't wait for them to close.
      const done = (): void => resolveP({ code, signal, aborted });
      const t = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        done();
      }, 100);
      child.on('close', () => {
        clearTimeout(t);
        done();
      });
    });
  });
}

/** "exit 3" / "killed by SIGKILL" */
export function describeExit(r: ProcResult): string {
  return r.code !== null ? `exit status ${r.code}` : `killed by ${r.signal ?? 'a signal'}`;
}
