// `restore` without `detached`, in the same process that spawned and dumped the target: the
// runner waits for the restored root and gets its exit status. This is the case libuv broke when
// targets were child_process children: its SIGCHLD handler reaped the restored process (same pid
// as the dumped child) and wait() failed with ECHILD. Needs root and the engine.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runWorkflow } from '../../runner/index.ts';
import type { RunEvent, RunResult } from '../../runner/index.ts';
import { checkNoChildrenLeft, alive, sleep, tmp, workflow } from './helpers.ts';
import { killPid } from './live.ts';

checkNoChildrenLeft();

/** One process counting in $COUNT; `ready` once it passed 5; exits with 7 at `stop` (0: never). */
const counter = (dir: string, stop: number): string => `
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
      dir: ${dir}/images`;

function killAll(t: { after(f: () => Promise<void>): void }, r: RunResult): void {
  for (const s of r.steps) if (typeof s.outputs.pid === 'number') t.after(() => killPid(s.outputs.pid as number));
}
const why = (r: RunResult): string => `${r.failedStep}: ${String((r.error as Error | undefined)?.message)}`;

test('restore (not detached) waits for the restored root in-process and gets its exit status', async (t) => {
  const dir = tmp(t);
  const file = workflow(dir, `version: 1
steps:
  - id: dump
    dump:${counter(dir, 40)}
  - id: restore
    restore: { dir: "\${{ steps.dump.outputs.dir }}" }
    timeout: 30s
`);
  const r = await runWorkflow(file);
  killAll(t, r);
  assert.equal(r.ok, true, why(r));
  const [dump, restore] = r.steps;
  assert.equal(restore!.outputs.pid, dump!.outputs.pid, 'restored with its pid');
  assert.equal(restore!.outputs['exit-code'], 7, 'the exit status of the restored root, not lost to libuv');
  assert.equal(readFileSync(join(dir, 'count'), 'utf8'), '40', 'it carried on to the end');
});

test('Ctrl-C while waiting for a restored root stops waiting, leaves it running, and finally still gets its pid', async (t) => {
  const dir = tmp(t);
  const file = workflow(dir, `version: 1
steps:
  - id: dump
    dump:${counter(dir, 0)}
  - id: restore
    restore: { dir: "\${{ steps.dump.outputs.dir }}" }
  - id: later
    run: touch ${dir}/later
finally:
  - run: echo "\${{ steps.restore.outputs.pid }}" > ${dir}/finally-pid
`);
  const ac = new AbortController();
  const events: RunEvent[] = [];
  const p = runWorkflow(file, { signal: ac.signal, onEvent: (e) => events.push(e) });
  const waiting = (): boolean => events.some((e) => e.type === 'log' && /waiting for pid/.test(e.line));
  for (let i = 0; i < 2000 && !waiting(); i++) await sleep(10);
  assert.ok(waiting(), 'the restore step waits');
  ac.abort();
  const r = await p;
  killAll(t, r);
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
