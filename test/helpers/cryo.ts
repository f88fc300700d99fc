// Runs the cryo CLI as a user would: `node bin/cryo.js …`.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './repo.ts';

export interface CryoRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CryoRunOptions {
  readonly cwd?: string;
  /** Added to the current environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly input?: string;
  /** SIGKILL the CLI after this long (default 120 s). */
  readonly timeoutMs?: number;
}

export function runCryo(args: readonly string[], opts: CryoRunOptions = {}): Promise<CryoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot(), 'bin', 'cryo.js'), ...args], {
      cwd: opts.cwd ?? repoRoot(),
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
