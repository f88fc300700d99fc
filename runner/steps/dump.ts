// `dump`: checkpoint a tree chosen by pid, pidfile, or spawn (start a command, wait until it is
// ready, dump it: the CI-snapshot case). A tree the step spawned itself is killed if the step fails.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../duration.ts';
import { StepError } from '../errors.ts';
import type { Value } from '../expr.ts';
import { planValue } from '../planned.ts';
import { killGroup, runProcess } from '../proc.ts';
import type { Planned } from '../types.ts';
import { abortable, asConfig, bool, int, path, str, summarize } from './common.ts';
import type { Config } from './common.ts';
import type { Outputs, StepContext, StepKind } from './types.ts';

export async function targetPid(c: Config, ctx: StepContext, where: string): Promise<number> {
  const pidfile = str(c, 'pidfile');
  if (pidfile !== undefined) {
    const file = path(ctx.workflowDir, pidfile);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new StepError(`${where}.pidfile: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new StepError(`${where}.pidfile: ${file} does not hold a pid (found ${JSON.stringify(text.trim().slice(0, 20))})`);
    return pid;
  }
  const pid = int(c, 'pid', where);
  if (pid === undefined || pid === 0) throw new StepError(`${where}.pid: no pid (the expression gave nothing)`);
  return pid;
}

export function imagesDir(c: Config, ctx: StepContext, prefix: string): string {
  const d = str(c, 'dir');
  if (d === undefined) return mkdtempSync(join(tmpdir(), `cryo-${prefix}-`));
  const dir = path(ctx.workflowDir, d);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); res(true); });
    s.once('error', () => { s.destroy(); res(false); });
  });
}

async function spawnTarget(s: Config, ctx: StepContext): Promise<number> {
  const command = s.command;
  const argv = Array.isArray(command) ? command.map(String) : ['sh', '-c', String(command)];
  const out = openSync(path(ctx.workflowDir, str(s, 'output') ?? '/dev/null'), 'a');
  // Its own session (a session leader, as CRIU wants without --shell-job), stdio to a file:
  // nothing of cryo's ends up in the dumped tree.
  const child = spawn(argv[0]!, argv.slice(1), { cwd: path(ctx.workflowDir, str(s, 'working-directory') ?? '.'), env: ctx.env, stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new StepError(`dump.spawn: cannot start ${JSON.stringify(argv.join(' '))}`);
  let exited: string | undefined;
  child.on('exit', (code, sig) => { exited = code !== null ? `exit status ${code}` : `killed by ${sig}`; });
  ctx.log('info', `spawned pid ${pid}: ${argv.join(' ')}`);
  const ready = asConfig(s.ready ?? null);
  const timeoutMs = parseDuration(str(ready, 'timeout') ?? '30s');
  const interval = parseDuration(str(ready, 'interval') ?? '100ms');
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (exited) throw new StepError(`dump.spawn: the command ended (${exited}) before it was ready`);
      if (await isReady(ready, ctx)) break;
      if (Date.now() > deadline) throw new StepError(`dump.spawn: not ready after ${str(ready, 'timeout') ?? '30s'} (${describeReady(ready)})`);
      await abortable(ctx.signal, interval);
    }
  } catch (e) {
    killGroup(pid, 'SIGKILL');
    throw e;
  }
  return pid;
}

async function isReady(r: Config, ctx: StepContext): Promise<boolean> {
  const cmd = str(r, 'command');
  if (cmd !== undefined) return (await runProcess(['sh', '-c', cmd], { cwd: ctx.workflowDir, env: ctx.env, signal: ctx.signal })).code === 0;
  const file = str(r, 'file');
  if (file !== undefined) return existsSync(path(ctx.workflowDir, file));
  const port = int(r, 'port', 'dump.spawn.ready');
  if (port !== undefined) return portOpen(port);
  return true; // no readiness check: ready once started
}

function describeReady(r: Config): string {
  return r.command ? `command ${JSON.stringify(r.command)} never succeeded` : r.file ? `file ${String(r.file)} never appeared` : `port ${String(r.port)} never accepted`;
}

export const dumpStep = {
  outputs: ['dir', 'pid', 'pids', 'stats', 'final'],
  plan: (config: unknown): Planned => planValue(config ?? {}),
  summary: (p: Planned) => summarize(p),
  async run(config: Value, ctx: StepContext): Promise<Outputs> {
    const c = asConfig(config);
    const spawned = c.spawn !== undefined && c.spawn !== null ? await spawnTarget(asConfig(c.spawn), ctx) : undefined;
    try {
      const pid = spawned ?? (await targetPid(c, ctx, 'dump'));
      const dir = imagesDir(c, ctx, 'dump');
      const r = await ctx.engine.dump({
        pid,
        imagesDir: dir,
        leaveRunning: bool(c, 'leave-running', 'dump'),
        leaveStopped: bool(c, 'leave-stopped', 'dump'),
        shellJob: bool(c, 'shell-job', 'dump'),
        hooks: ctx.hooks,
        signal: ctx.signal,
      });
      return { dir: r.imagesDir, pid, pids: [...r.pids], stats: { ...r.stats }, final: r.final };
    } catch (e) {
      if (spawned !== undefined) killGroup(spawned, 'SIGKILL');
      throw e;
    }
  },
} as const satisfies StepKind;
