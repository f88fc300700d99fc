// Hooks with the real engine: CRIU's moments, order and environment; CRIU's failure semantics;
// a corrupted archive refused at restore. Needs root and the engine's dump/restore.
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readSync, realpathSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT } from '../../errors.ts';
import { HookError, ImageError } from '../../errors.ts';
import { WorkflowFailedError, runWorkflow } from '../../runner/index.ts';
import { checkNoChildrenLeft, alive, sleep, tmp, workflow } from './helpers.ts';
import { killPid, startCounter } from './live.ts';

checkNoChildrenLeft();

const ORDER = ['pre-dump', 'post-dump', 'pre-restore', 'post-restore', 'pre-resume', 'post-resume'] as const;

test('hooks fire in CRIU order with CRIU environment', async (t) => {
  const dir = realpathSync(tmp(t));
  const log = join(dir, 'hooks.log');
  const counter = await startCounter(t, join(dir, 'counter.log'));
  const hooks = ORDER.map((h) => `  ${h}: echo "$CRTOOLS_SCRIPT_ACTION \${CRTOOLS_INIT_PID:--} $CRTOOLS_IMAGE_DIR" >> ${log}`).join('\n');
  const file = workflow(dir, `version: 1
inputs: { pid: { type: integer, required: true } }
hooks:
${hooks}
steps:
  - id: dump
    dump: { pid: "\${{ inputs.pid }}", dir: ${dir}/images }
  - id: restore
    restore: { dir: "\${{ steps.dump.outputs.dir }}", detached: true }
`);
  const r = await runWorkflow(file, { inputs: { pid: String(counter.pid) } });
  const restored = r.steps[1]?.outputs.pid;
  if (typeof restored === 'number') t.after(() => killPid(restored));
  assert.equal(r.ok, true, String((r.error as Error | undefined)?.message));
  const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' '));
  assert.deepEqual(lines.map((l) => l[0]), [...ORDER]);
  for (const [action, pid, images] of lines) {
    assert.equal(images, `${dir}/images`, action);
    // CRIU sets CRTOOLS_INIT_PID once the root is known: not for pre-restore.
    if (action !== 'pre-restore') assert.equal(pid, String(counter.pid), action);
  }
  assert.equal(restored, counter.pid);
  const before = counter.count();
  await sleep(400);
  assert.ok(counter.count() > before, 'the restored counter advances');
});

test('a failing post-dump hook leaves the task running and fails the dump step', async (t) => {
  const dir = tmp(t);
  const counter = await startCounter(t, join(dir, 'counter.log'));
  const file = workflow(dir, `version: 1
inputs: { pid: { type: integer, required: true } }
hooks: { post-dump: "exit 7" }
steps:
  - id: dump
    dump: { pid: "\${{ inputs.pid }}", dir: ${dir}/images }
  - id: never
    run: touch ${dir}/never
`);
  const r = await runWorkflow(file, { inputs: { pid: String(counter.pid) } });
  assert.equal(r.ok, false);
  assert.equal(r.failedStep, 'dump');
  assert.ok(r.error instanceof HookError, String(r.error));
  assert.equal(new WorkflowFailedError(r.failedStep, r.error).exitCode, EXIT.HOOK);
  assert.ok(alive(counter.pid), 'the task is alive');
  assert.doesNotMatch(readFileSync(`/proc/${counter.pid}/stat`, 'utf8'), /^\d+ \(.*\) [tT] /, 'not left stopped');
  const before = counter.count();
  await sleep(400);
  assert.ok(counter.count() > before, 'and it still advances');
  assert.equal(r.steps[1]!.outcome, 'skipped');
});

/** Flips one byte in the middle of the largest member of a plain tar. */
function corruptLargestMember(archive: string): void {
  const buf = readFileSync(archive);
  let best = { at: -1, size: 0 };
  for (let off = 0; off + 512 <= buf.length; ) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(h.subarray(124, 136).toString().replace(/\0.*$/, '').trim() || '0', 8);
    if (size > best.size) best = { at: off + 512, size };
    off += 512 + Math.ceil(size / 512) * 512;
  }
  assert.ok(best.size > 0);
  const fd = openSync(archive, 'r+');
  const b = Buffer.alloc(1);
  const pos = best.at + Math.floor(best.size / 2);
  readSync(fd, b, 0, 1, pos);
  writeSync(fd, Buffer.from([b[0]! ^ 0xff]), 0, 1, pos);
  closeSync(fd);
}

test('transfer to an archive, corrupt one byte: restore refuses it', async (t) => {
  const dir = tmp(t);
  const counter = await startCounter(t, join(dir, 'counter.log'));
  const archive = join(dir, 'ship', 'images.tar');
  const ship = workflow(dir, `version: 1
inputs: { pid: { type: integer, required: true } }
steps:
  - id: dump
    dump: { pid: "\${{ inputs.pid }}", dir: ${dir}/images }
  - id: ship
    transfer: { from: "\${{ steps.dump.outputs.dir }}", to: ${archive} }
`, 'ship.yaml');
  const r1 = await runWorkflow(ship, { inputs: { pid: String(counter.pid) } });
  assert.equal(r1.ok, true, String((r1.error as Error | undefined)?.message));
  assert.equal(r1.steps[1]!.outputs.archive, archive);
  corruptLargestMember(archive);
  const restore = workflow(dir, `version: 1
steps:
  - id: restore
    restore: { dir: ${archive}, detached: true }
`, 'restore.yaml');
  const r2 = await runWorkflow(restore);
  assert.equal(r2.ok, false);
  assert.ok(r2.error instanceof ImageError, String(r2.error));
  assert.match((r2.error as Error).message, /SHA-256|corrupt|bytes/);
  assert.equal(alive(counter.pid), false, 'nothing was restored');
});
