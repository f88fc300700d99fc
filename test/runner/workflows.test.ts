// The shipped workflows, run for real (root and the engine needed).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkNoChildrenLeft, ROOT, tmp } from './helpers.ts';
import { killPid, startCounter } from './live.ts';
import { runWorkflow } from '../../runner/index.ts';
import type { RunResult } from '../../runner/index.ts';

checkNoChildrenLeft();

function killRestored(t: { after(f: () => void): void }, r: RunResult): void {
  for (const s of r.steps) if (s.kind === 'restore' && typeof s.outputs.pid === 'number') t.after(() => killPid(s.outputs.pid as number));
}
const why = (r: RunResult): string => `${r.failedStep}: ${String((r.error as Error | undefined)?.message)}`;

test('workflows/demo.yaml: the restored counter continues', async (t) => {
  const work = join(tmp(t), 'demo');
  const r = await runWorkflow(join(ROOT, 'workflows/demo.yaml'), { inputs: { workdir: work } });
  killRestored(t, r);
  assert.equal(r.ok, true, why(r));
  assert.deepEqual(r.steps.map((s) => s.outcome), ['success', 'success', 'success', 'success', 'success', 'success']);
});

test('workflows/migrate.yaml: dump, archive, restore from the archive, health, exec', async (t) => {
  const dir = tmp(t);
  const state = join(dir, 'counter.log');
  const counter = await startCounter(t, state);
  const r = await runWorkflow(join(ROOT, 'workflows/migrate.yaml'), { inputs: { pid: String(counter.pid), state, dest: join(dir, 'dest') } });
  killRestored(t, r);
  assert.equal(r.ok, true, why(r));
  const restore = r.steps.find((s) => s.id === 'restore')!;
  assert.equal(restore.outputs.pid, counter.pid);
  assert.equal(r.steps.find((s) => s.id === 'ship')!.outputs.archive, join(dir, 'dest', `${counter.pid}.tar.gz`));
});

test('workflows/ci-snapshot.yaml: the warm state is restored without booting again', async (t) => {
  const work = join(tmp(t), 'ci');
  const r = await runWorkflow(join(ROOT, 'workflows/ci-snapshot.yaml'), { inputs: { workdir: work, warmup: '1' } });
  killRestored(t, r);
  assert.equal(r.ok, true, why(r));
});
