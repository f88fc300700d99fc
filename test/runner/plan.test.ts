// `plan` is pure: it resolves inputs and vars, parses expressions, and executes nothing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatPlan, planFile, planToJSON } from '../../runner/index.ts';
import { tmp, workflow } from './helpers.ts';

test('plan executes nothing, not even run steps, hooks or vars', async (t) => {
  const dir = tmp(t);
  const marker = join(dir, 'created');
  const file = workflow(dir, `version: 1
inputs: { n: { type: integer, default: 3 } }
vars: { target: "${marker}-\${{ inputs.n }}" }
hooks: { pre-dump: "touch ${marker}.hook" }
steps:
  - id: make
    run: touch "\${{ vars.target }}" "${marker}"
  - run: echo "\${{ steps.make.outputs.x }}"
finally:
  - run: touch "${marker}.finally"
`);
  const plan = await planFile(file, { inputs: { n: '5' } });
  assert.equal(existsSync(marker), false);
  assert.equal(existsSync(`${marker}-5`), false);
  assert.equal(existsSync(`${marker}.hook`), false);
  assert.equal(existsSync(`${marker}.finally`), false);
  // Resolved where it can be, kept as an expression where it depends on a run.
  assert.deepEqual(plan.inputs, { n: 5 });
  assert.equal(plan.vars.target, `${marker}-5`);
  const text = formatPlan(plan);
  assert.match(text, new RegExp(`touch "${marker}-5" "${marker}"`));
  assert.match(text, /echo "\$\{\{ steps\.make\.outputs\.x \}\}"/);
  const json = planToJSON(plan) as { steps: { kind: string; if: string }[]; finally: { if: string }[] };
  assert.deepEqual(json.steps.map((s) => [s.kind, s.if]), [['run', 'success()'], ['run', 'success()']]);
  assert.equal(json.finally[0]!.if, 'always()');
});
