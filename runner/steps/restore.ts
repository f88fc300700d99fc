// `restore`: rebuild a tree from an images directory or a transfer archive (unpacked and
// verified first), then `exec` (CRIU --exec-cmd) and, unless detached, wait for the root to exit.
import { writeFileSync } from 'node:fs';
import { StepError } from '../errors.ts';
import type { Value } from '../expr.ts';
import { planValue } from '../planned.ts';
import { describeExit, runProcess } from '../proc.ts';
import { describeStatus, running } from '../../engine/index.ts';
import { formatDuration } from '../duration.ts';
import type { RestoredTree } from '../engine-port.ts';
import type { Planned } from '../types.ts';
import { asConfig, bool, pageProgress, path, str, summarize } from './common.ts';
import { verifyArchive } from './transfer.ts';
import { isArchivePath } from '../archive.ts';
import { existsSync, statSync } from 'node:fs';
import type { Outputs, StepContext, StepKind } from './types.ts';

export const restoreStep = {
  outputs: ['pid', 'pids', 'stats', 'dir', 'exit-code'],
  plan: (config: unknown): Planned => planValue(config),
  summary: (p: Planned) => summarize(p),
  async run(config: Value, ctx: StepContext): Promise<Outputs> {
    const c = asConfig(config);
    const given = path(ctx.workflowDir, str(c, 'dir') ?? '');
    if (!existsSync(given)) throw new StepError(`restore.dir: ${given} does not exist`);
    const archive = isArchivePath(given) || statSync(given).isFile();
    // An archive is refused as a whole if any byte of it is wrong: nothing is restored from it.
    const dir = archive ? await verifyArchive(ctx.engine, given, ctx.tmpDir) : given;
    const detached = bool(c, 'detached', 'restore');
    const tree = await ctx.engine.restore({
      imagesDir: dir,
      detached,
      shellJob: bool(c, 'shell-job', 'restore'),
      tcpEstablished: bool(c, 'tcp-established', 'restore'),
      tcpClose: bool(c, 'tcp-close', 'restore'),
      cgroupMode: str(c, 'manage-cgroups') === 'ignore' ? 'ignore' : 'soft',
      leaveStopped: bool(c, 'leave-stopped', 'restore'),
      hooks: ctx.hooks,
      onProgress: pageProgress(ctx),
    });
    // Restored as this process's child: reaped by pid (never by libuv), at the end if not waited for.
    ctx.children.add(tree.pid);
    ctx.log('info', `restored pid ${tree.pid}${tree.pids.length > 1 ? ` (${tree.pids.length} processes)` : ''} in ${formatDuration(tree.stats.restore_time / 1000)}, ${tree.stats.pages_restored} pages`);
    const pidfile = str(c, 'pidfile');
    if (pidfile !== undefined) writeFileSync(path(ctx.workflowDir, pidfile), `${tree.pid}\n`);
    const outputs: Outputs = { pid: tree.pid, pids: [...tree.pids], stats: { ...tree.stats }, dir: archive ? given : dir };
    // Kept if the step fails from here on: a finally step can still stop the restored tree.
    ctx.partial(outputs);
    const exec = Array.isArray(c.exec) ? c.exec.map(String) : undefined;
    if (exec) {
      const r = await runProcess(exec, { cwd: ctx.workflowDir, env: { ...ctx.env, CRYO_RESTORED_PID: String(tree.pid) }, signal: ctx.signal, onLine: (s, l) => ctx.log(s, l) });
      if (r.aborted) throw ctx.signal.reason;
      if (r.code !== 0) throw new StepError(`restore.exec: ${JSON.stringify(exec.join(' '))} failed (${describeExit(r)})`);
    }
    if (!detached) outputs['exit-code'] = await waitRoot(tree, ctx);
    return outputs;
  },
} as const satisfies StepKind;

/**
 * Waits for the restored root to exit (it is this process's child, and not libuv's). Ctrl-C or a
 * timeout stops the waiting only: the restored tree keeps running, and the log says so.
 */
async function waitRoot(tree: RestoredTree, ctx: StepContext): Promise<number> {
  ctx.log('info', `waiting for pid ${tree.pid} to exit (Ctrl-C stops waiting and leaves it running)`);
  try {
    const status = await tree.wait(ctx.signal);
    ctx.children.forget(tree.pid);
    const exit = { code: status.code, signal: status.signal };
    ctx.log('info', `pid ${tree.pid} exited: ${describeStatus(exit)}`);
    return status.code ?? 128 + (status.signal ?? 0);
  } catch (e) {
    if (ctx.signal.aborted && running(tree.pid)) ctx.log('info', `stopped waiting; pid ${tree.pid} is left running (kill it with: kill ${tree.pid})`);
    throw e;
  }
}
