// zdtm-style targets: build test/targets/NAME.c, start it detached, wait for "ready", ask for
// reports, and make sure nothing a test started outlives it.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import type { TestContext } from 'node:test';
import { readComm, readExeLink, readStat, readSyscall } from '../../engine/proc/index.ts';
import { repoRoot } from './repo.ts';

const built = new Map<string, string>();

/** Compiles test/targets/NAME.c (gcc -O1 -pthread) into $TMPDIR/cryo-targets/NAME, once, rebuilt when a source is newer. */
export function buildTarget(name: string): string {
  const cached = built.get(name);
  if (cached !== undefined) return cached;
  const srcDir = join(repoRoot(), 'test', 'targets');
  const src = join(srcDir, `${name}.c`);
  const outDir = join(tmpdir(), 'cryo-targets');
  const bin = join(outDir, name);
  mkdirSync(outDir, { recursive: true });
  const newest = Math.max(statSync(src).mtimeMs, statSync(join(srcDir, 'target.h')).mtimeMs);
  if (!existsSync(bin) || statSync(bin).mtimeMs < newest) {
    // test files run in parallel processes: build aside, then rename into place atomically
    const tmp = `${bin}.${process.pid}.tmp`;
    try {
      execFileSync('gcc', ['-O1', '-pthread', '-Wall', '-o', tmp, src], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { stderr?: Buffer };
      throw new Error(`gcc ${name}.c failed:\n${err.stderr?.toString() ?? String(e)}`, { cause: e });
    }
    renameSync(tmp, bin);
  }
  built.set(name, bin);
  return bin;
}

export interface Target {
  readonly pid: number;
  /** comm once ready: stop() uses it to recognise a restored process with our pid. */
  readonly comm: string;
  /** Resolves when the process we spawned exits (a dump that kills it counts). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stdout and stderr so far. */
  output(): string;
  /** SIGKILL and wait: the spawned process, and a restored one with the same pid and comm. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /**
   * 'line' (default): wait for "ready" on stdout. 'sleeping': for programs that print nothing
   * (`/bin/sleep 1000`): wait until it has exec'ed and sleeps in a system call.
   */
  readonly ready?: 'line' | 'sleeping';
  /** With 'line': the line that says ready, for programs that print their own (default /^ready$/m). */
  readonly readyLine?: RegExp;
  readonly readyTimeoutMs?: number;
  /** Also stop the target when this test ends (everything is stopped when the file ends anyway). */
  readonly t?: TestContext;
}

const live = new Set<Target>();

/** Stops every target started in this process. Runs after each test file by itself. */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((t) => t.stop()));
}

after(killAll);
// Last resort if the test process dies without running its hooks.
process.on('exit', () => {
  for (const t of live) killQuiet(t.pid);
});

function killQuiet(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function isLive(pid: number, comm: string): boolean {
  try {
    const st = readStat(pid);
    return st.comm === comm && st.state !== 'Z' && st.state !== 'X';
  } catch {
    return false;
  }
}

/** A restored process is not our child: kill it and wait until it is gone or a zombie. */
async function killAdopted(pid: number, comm: string): Promise<void> {
  if (!isLive(pid, comm)) return;
  killQuiet(pid);
  for (let i = 0; i < 500 && isLive(pid, comm); i++) await sleep(10);
}

function isSleepingAfterExec(pid: number): boolean {
  try {
    if (readExeLink(pid) === process.execPath) return false; // not exec'ed yet
    const sc = readSyscall(pid);
    return readStat(pid).state === 'S' && !('running' in sc) && sc.nr !== -1;
  } catch {
    return false;
  }
}

/** Spawns `cmd` in its own session (setsid) with stdout piped and waits until it is ready. */
export async function startTarget(cmd: readonly string[], opts: StartOptions = {}): Promise<Target> {
  const [file, ...args] = cmd;
  if (file === undefined) throw new Error('startTarget: empty command');
  // stdout/stderr go to a file, not a pipe: libuv's stdio pipes are unix sockets, which a
  // checkpoint of the target would have to handle; a real service's stdio is a file or a tty.
  const outPath = join(mkdtempSync(join(tmpdir(), 'cryo-target-')), 'stdout');
  const outFd = openSync(outPath, 'a');
  const child: ChildProcess = spawn(file, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    detached: true,
    stdio: ['ignore', outFd, outFd],
  });
  closeSync(outFd);
  let outCache = '';
  const readOut = (): string => {
    try {
      outCache = readFileSync(outPath, 'utf8');
    } catch {
      /* removed */
    }
    return outCache;
  };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: null, signal: null }));
  });
  let gone = false;
  void exited.then(() => (gone = true));
  const pid = child.pid;
  if (pid === undefined) {
    await exited;
    throw new Error(`cannot start ${cmd.join(' ')}: ${readOut()}`);
  }
  let comm = '';
  let stopping: Promise<void> | undefined;
  const target: Target = {
    pid,
    get comm() {
      return comm;
    },
    exited,
    output: readOut,
    stop() {
      stopping ??= (async () => {
        if (!gone) {
          killQuiet(pid);
          await exited;
        }
        if (comm !== '') await killAdopted(pid, comm);
        rmSync(dirname(outPath), { recursive: true, force: true });
        live.delete(target);
      })();
      return stopping;
    },
  };
  live.add(target);
  opts.t?.after(() => target.stop());

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
  const isReady = (): boolean => (opts.ready === 'sleeping' ? isSleepingAfterExec(pid) : (opts.readyLine ?? /^ready$/m).test(readOut()));
  while (!isReady()) {
    if (gone || Date.now() > deadline) {
      await target.stop();
      const why = gone ? `exited (${JSON.stringify(await exited)})` : 'timed out';
      throw new Error(`target ${cmd.join(' ')} ${why} before ready; output:\n${readOut()}`);
    }
    await sleep(10);
  }
  comm = readComm(pid);
  return target;
}

export interface WaitLineOptions {
  /** Only lines starting at or after this byte offset (e.g. the size before a request). */
  readonly since?: number;
}

/** Waits until `path` has a complete line for which `predicate` holds; returns that line. */
export async function waitForFileLine(
  path: string,
  predicate: (line: string) => boolean,
  timeoutMs = 5000,
  opts: WaitLineOptions = {},
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  for (;;) {
    text = existsSync(path) ? readFileSync(path).subarray(opts.since ?? 0).toString('utf8') : '';
    const lines = text.split('\n');
    lines.pop(); // an unfinished last line is not a line yet
    const hit = lines.find(predicate);
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) throw new Error(`no matching line in ${path} after ${timeoutMs} ms; it ends with:\n${text.slice(-1000)}`);
    await sleep(20);
  }
}

export function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

/** Sends SIGUSR1 and returns the next line the target appends to `log`. */
export async function requestReport(pid: number, log: string, timeoutMs = 5000): Promise<string> {
  const since = fileSize(log);
  process.kill(pid, 'SIGUSR1');
  return waitForFileLine(log, () => true, timeoutMs, { since });
}

/** `a=1 b=x/y` → { a: '1', b: 'x/y' }; words without '=' are skipped. */
export function parseReport(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of line.trim().split(/\s+/)) {
    const eq = w.indexOf('=');
    if (eq > 0) out[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return out;
}
