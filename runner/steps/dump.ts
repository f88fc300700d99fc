// `dump`: checkpoint a tree chosen by pid, pidfile, or spawn (start a command, wait until it is
// ready, dump it: the CI-snapshot case). A tree the step spawned itself is killed if the step fails.
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDuration, parseDuration } from '../duration.ts';
import { describeStatus, killAndReap, startDetached, tryReap } from '../../engine/index.ts';
import { StepError } from '../errors.ts';
import type { Value } from '../expr.ts';
import { planValue } from '../planned.ts';
import { runProcess } from '../proc.ts';
import type { Planned } from '../types.ts';
import { abortable, asConfig, bool, int, mib, pageProgress, path, short, str, summarize } from './common.ts';
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
  // Its own session (a session leader, as CRIU wants without --shell-job), stdio to a file, and
  // not a libuv child (see children.ts): nothing of cryo's ends up in the dumped tree, and the
  // restored process with the same pid is not reaped behind the runner's back.
  const output = path(ctx.workflowDir, str(s, 'output') ?? '/dev/null');
  const pid = startDetached(argv, { cwd: path(ctx.workflowDir, str(s, 'working-directory') ?? '.'), env: ctx.env, output });
  ctx.children.add(pid);
  ctx.log('info', `spawned pid ${pid}: ${short(argv, 80)}${output === '/dev/null' ? '' : ` (output to ${output})`}`);
  const ready = asConfig(s.ready ?? null);
  const timeoutMs = parseDuration(str(ready, 'timeout') ?? '30s');
  const interval = parseDuration(str(ready, 'interval') ?? '100ms');
  const deadline = Date.now() + timeoutMs;
  const t0 = performance.now();
  try {
    for (;;) {
      const exited = tryReap(pid);
      if (exited !== undefined) {
        ctx.children.forget(pid);
        throw new StepError(`dump.spawn: the command ended (${exited === 'gone' ? 'reaped elsewhere' : describeStatus(exited)}) before it was ready`);
      }
      if (await isReady(ready, ctx)) break;
      if (Date.now() > deadline) throw new StepError(`dump.spawn: not ready after ${str(ready, 'timeout') ?? '30s'} (${describeReady(ready)})`);
      await abortable(ctx.signal, interval);
    }
  } catch (e) {
    await killAndReap(pid);
    ctx.children.forget(pid);
    throw e;
  }
  ctx.log('info', `pid ${pid} ready after ${formatDuration(performance.now() - t0)}`);
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
        tcpEstablished: bool(c, 'tcp-established', 'dump'),
        fileLocks: bool(c, 'file-locks', 'dump'),
        extUnixSk: bool(c, 'ext-unix-sk', 'dump'),
        tcpClose: bool(c, 'tcp-close', 'dump'),
        skipInFlight: bool(c, 'skip-in-flight', 'dump'),
        networkLock: networkLock(str(c, 'network-lock')),
        hooks: ctx.hooks,
        signal: ctx.signal,
        onProgress: pageProgress(ctx),
      });
      // The engine reaped the tree it killed: that pid is no longer ours to wait for.
      if (spawned !== undefined && r.final === 'killed') ctx.children.forget(spawned);
      const st = r.stats;
      ctx.log('info', `dumped pid ${pid}${r.pids.length > 1 ? ` (${r.pids.length} processes)` : ''}: frozen ${formatDuration(st.frozen_time / 1000)}, ${st.pages_written} pages, ${mib(st.image_bytes)} of images in ${r.imagesDir}; the tree was ${r.final === 'killed' ? 'killed' : `left ${r.final}`}`);
      return { dir: r.imagesDir, pid, pids: [...r.pids], stats: { ...r.stats }, final: r.final };
    } catch (e) {
      if (spawned !== undefined) {
        await killAndReap(spawned);
        ctx.children.forget(spawned);
      }
      throw e;
    }
  },
} as const satisfies StepKind;

/** The dump step's network-lock: 'auto' (the default) leaves the choice to the engine. */
function networkLock(v: string | undefined): 'iptables' | 'nftables' | 'skip' | undefined {
  return v === 'iptables' || v === 'nftables' || v === 'skip' ? v : undefined;
}
