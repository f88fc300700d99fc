// `restore` without `detached`, in the same process that spawned and dumped the target: the
// runner waits for the restored root and gets its exit status. This is the case libuv broke when
// targets were child_process children: its SIGCHLD handler reaped the restored process (same pid
// as the dumped child) and wait() failed with ECHILD. Needs root and the engine.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runWorkflow } from '../../runner/index.ts';
import type { RunEvent, RunResult } from '../../runner/index.ts';
import { ROOT, checkNoChildrenLeft, alive, sleep, tmp, workflow } from './helpers.ts';
import { killPid } from './live.ts';

checkNoChildrenLeft();

/**
 * A workflow that spawns one process counting in DIR/count (`ready` once it passed 5; exits with 7
 * at `stop`, 0: never), dumps it, and restores it without `detached`; `more` is appended.
 */
const dumpThenRestore = (dir: string, stop: number, more = ''): string => `version: 1
steps:
  - id: dump
    dump:
      spawn:
        command:
          - python3
          - -c
          - |
            import os, time
            i = 0
            while True:
                i += 1
                open("${dir}/count", "w").write(str(i))
                if i == 5:
                    open("${dir}/ready", "w").close()
                if i == ${stop}:
                    raise SystemExit(7)
                time.sleep(0.05)
        ready: { file: ${dir}/ready, timeout: 20s }
      dir: ${dir}/images
  - id: restore
    restore: { dir: "\${{ steps.dump.outputs.dir }}" }
${more}`;

/** Kills (and reaps) what a test restored. Register it before tmp(): hooks run in order, and the
 * processes must be gone before their directory is removed. */
function killer(t: { after(f: () => Promise<void>): void }): { add(pid: unknown): void; all(r: RunResult): void } {
  const pids = new Set<number>();
  t.after(async () => {
    for (const pid of pids) await killPid(pid);
  });
  const add = (pid: unknown): void => void (typeof pid === 'number' && pids.add(pid));
  return { add, all: (r) => r.steps.forEach((s) => add(s.outputs.pid)) };
}
const why = (r: RunResult): string => `${r.failedStep}: ${String((r.error as Error | undefined)?.message)}`;

test('restore (not detached) waits for the restored root in-process and gets its exit status', async (t) => {
  const kill = killer(t);
  const dir = tmp(t);
  const file = workflow(dir, dumpThenRestore(dir, 40, '    timeout: 30s\n'));
  const r = await runWorkflow(file);
  kill.all(r);
  assert.equal(r.ok, true, why(r));
  const [dump, restore] = r.steps;
  assert.equal(restore!.outputs.pid, dump!.outputs.pid, 'restored with its pid');
  assert.equal(restore!.outputs['exit-code'], 7, 'the exit status of the restored root, not lost to libuv');
  assert.equal(readFileSync(join(dir, 'count'), 'utf8'), '40', 'it carried on to the end');
});

test('Ctrl-C while waiting for a restored root stops waiting, leaves it running, and finally still gets its pid', async (t) => {
  const kill = killer(t);
  const dir = tmp(t);
  const file = workflow(dir, dumpThenRestore(dir, 0, `  - id: later
    run: touch ${dir}/later
finally:
  - run: echo "\${{ steps.restore.outputs.pid }}" > ${dir}/finally-pid
`));
  const ac = new AbortController();
  const events: RunEvent[] = [];
  const p = runWorkflow(file, { signal: ac.signal, onEvent: (e) => events.push(e) });
  const waiting = (): boolean => events.some((e) => e.type === 'log' && /waiting for pid/.test(e.line));
  for (let i = 0; i < 2000 && !waiting(); i++) await sleep(10);
  assert.ok(waiting(), 'the restore step waits');
  ac.abort();
  const r = await p;
  kill.all(r);
  assert.equal(r.cancelled, true);
  const restore = r.steps.find((s) => s.id === 'restore')!;
  assert.equal(restore.outcome, 'cancelled');
  const pid = restore.outputs.pid as number;
  assert.equal(pid, r.steps[0]!.outputs.pid);
  assert.ok(events.some((e) => e.type === 'log' && e.line.includes(`pid ${pid} is left running`)), 'it says so');
  assert.equal(r.steps.find((s) => s.id === 'later')!.outcome, 'skipped');
  assert.equal(readFileSync(join(dir, 'finally-pid'), 'utf8').trim(), String(pid));
  const before = readFileSync(join(dir, 'count'), 'utf8');
  await sleep(300);
  assert.ok(alive(pid), 'still running');
  assert.notEqual(readFileSync(join(dir, 'count'), 'utf8'), before, 'and still counting');
});

test('cryo run: Ctrl-C while a restore step waits exits 130 at once and names the pid left running', async (t) => {
  const kill = killer(t);
  const dir = tmp(t);
  const file = workflow(dir, dumpThenRestore(dir, 0));
  const cli = spawn(process.execPath, [join(ROOT, 'bin', 'cryo.js'), 'run', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  cli.stdout.on('data', (b: Buffer) => (out += b.toString()));
  cli.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((res) => cli.on('exit', (code) => res(code)));
  t.after(() => void cli.kill('SIGKILL'));
  for (let i = 0; i < 2000 && !/waiting for pid/.test(out); i++) await sleep(10);
  assert.match(out, /waiting for pid (\d+)/);
  const pid = Number(/waiting for pid (\d+)/.exec(out)![1]);
  // Left running on purpose. Once the CLI is gone it is reparented to the nearest subreaper:
  // this test process (an earlier test made it one), so it is killed and reaped here.
  kill.add(pid);
  const t0 = Date.now();
  cli.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, out);
  assert.ok(Date.now() - t0 < 5000, 'it did not wait for the restored process to exit');
  assert.match(out, new RegExp(`left running: pid ${pid}`));
  assert.ok(alive(pid), 'the restored process still runs');
});
