// The executor with `run` steps only (no engine): conditions, retry, continue-on-error, timeouts
// that kill a whole process group, outputs, finally, env precedence, Ctrl-C.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runWorkflow } from '../../runner/index.ts';
import type { RunEvent } from '../../runner/index.ts';
import { checkNoChildrenLeft, alive, sleep, tmp, workflow } from './helpers.ts';

checkNoChildrenLeft();

const outcomes = (r: Awaited<ReturnType<typeof runWorkflow>>): string[] => r.steps.map((s) => `${s.name}:${s.outcome}/${s.conclusion}`);

test('if: success(), failure(), always(), comparisons; finally runs after a failure', async (t) => {
  const dir = tmp(t);
  const file = workflow(dir, `version: 1
inputs: { mode: { type: string, default: fast } }
steps:
  - { id: a, run: "true" }
  - { id: fast, if: "inputs.mode == 'fast'", run: "true" }
  - { id: slow, if: "inputs.mode == 'slow'", run: "true" }
  - { id: boom, run: "exit 3" }
  - { id: after, run: "true" }
  - { id: onfail, if: failure(), run: "true" }
  - { id: always, if: always(), run: "true" }
  - { id: cond, if: "steps.boom.outcome == 'failure'", run: "true" }
finally:
  - { id: cleanup, run: "touch ${dir}/cleaned" }
  - { id: only-on-success, if: success(), run: "true" }
`);
  const r = await runWorkflow(file);
  assert.equal(r.ok, false);
  assert.equal(r.failedStep, 'boom');
  assert.match(String((r.error as Error).message), /script failed \(exit status 3\)/);
  assert.deepEqual(outcomes(r), [
    'a:success/success', 'fast:success/success', 'slow:skipped/skipped', 'boom:failure/failure', 'after:skipped/skipped',
    'onfail:success/success', 'always:success/success', 'cond:skipped/skipped', 'cleanup:success/success', 'only-on-success:skipped/skipped',
  ]);
  assert.ok(existsSync(join(dir, 'cleaned')));
});

test('retry counts attempts and stops at the first success', async (t) => {
  const dir = tmp(t);
  const count = join(dir, 'count');
  const file = workflow(dir, `version: 1
steps:
  - id: flaky
    run: |
      n=$(cat ${count} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${count}
      test $n -ge 3
    retry: { limit: 5, delay: 10ms }
  - id: never
    run: |
      n=$(cat ${count}.never 2>/dev/null || echo 0); echo $((n+1)) > ${count}.never; exit 1
    retry: { limit: 2, delay: 10ms }
`);
  const r = await runWorkflow(file);
  assert.equal(readFileSync(count, 'utf8').trim(), '3');
  assert.equal(r.steps[0]!.attempts, 3);
  assert.equal(readFileSync(`${count}.never`, 'utf8').trim(), '3', '1 attempt + 2 retries');
  assert.equal(r.steps[1]!.outcome, 'failure');
  assert.equal(r.failedStep, 'never');
});

test('continue-on-error: outcome failure, conclusion success, the run goes on and succeeds', async (t) => {
  const dir = tmp(t);
  const file = workflow(dir, `version: 1
steps:
  - { id: bad, run: "exit 1", continue-on-error: true }
  - { id: next, run: "true" }
  - { id: saw, if: "steps.bad.outcome == 'failure' && steps.bad.conclusion == 'success'", run: "true" }
`);
  const r = await runWorkflow(file);
  assert.equal(r.ok, true);
  assert.deepEqual(outcomes(r), ['bad:failure/success', 'next:success/success', 'saw:success/success']);
});

test('timeout kills the step\'s whole process group, grandchildren included', async (t) => {
  const dir = tmp(t);
  const pidfile = join(dir, 'grandchild');
  const file = workflow(dir, `version: 1
steps:
  - id: hang
    run: |
      sleep 1000 &
      echo $! > ${pidfile}
      wait
    timeout: 500ms
`);
  const t0 = Date.now();
  const r = await runWorkflow(file);
  assert.ok(Date.now() - t0 < 5000, 'the step was stopped');
  assert.equal(r.ok, false);
  assert.match(String((r.error as Error).message), /timed out after 500ms/);
  const grandchild = Number(readFileSync(pidfile, 'utf8'));
  t.after(() => { try { process.kill(grandchild, 'SIGKILL'); } catch { /* gone */ } });
  for (let i = 0; i < 50 && alive(grandchild); i++) await sleep(20);
  assert.equal(alive(grandchild), false, `sleep ${grandchild} survived the timeout`);
});

test('outputs flow between steps ($CRYO_OUTPUT, heredoc form too)', async (t) => {
  const dir = tmp(t);
  const file = workflow(dir, `version: 1
steps:
  - id: produce
    run: |
      echo "answer=42" >> "$CRYO_OUTPUT"
      printf 'text<<EOF\\nline one\\nline two\\nEOF\\n' >> "$CRYO_OUTPUT"
  - id: consume
    if: steps.produce.outputs.answer > 40
    run: |
      test "\${{ steps.produce.outputs.answer }}" = 42
      echo "got=\${{ steps.produce.outputs.answer }}" >> "$CRYO_OUTPUT"
      test "$(printf '%s' "$TEXT")" = "$(printf 'line one\\nline two')"
    env: { TEXT: "\${{ steps.produce.outputs.text }}" }
`);
  const r = await runWorkflow(file);
  assert.equal(r.ok, true, String((r.error as Error | undefined)?.message));
  assert.deepEqual(r.steps[0]!.outputs, { answer: '42', text: 'line one\nline two' });
  assert.deepEqual(r.steps[1]!.outputs, { got: '42' });
});

test('env precedence: step over workflow over cryo\'s environment', async (t) => {
  const dir = tmp(t);
  const out = join(dir, 'env');
  const file = workflow(dir, `version: 1
env: { A: workflow, B: workflow }
steps:
  - env: { B: step }
    run: echo "$A $B $C" > ${out}
`);
  const r = await runWorkflow(file, { env: { ...process.env, A: 'process', B: 'process', C: 'process' } });
  assert.equal(r.ok, true);
  assert.equal(readFileSync(out, 'utf8').trim(), 'workflow step process');
});

test('abort (Ctrl-C): the running step is killed, later steps are skipped, finally still runs', async (t) => {
  const dir = tmp(t);
  const file = workflow(dir, `version: 1
steps:
  - { id: long, run: "sleep 1000" }
  - { id: later, run: "touch ${dir}/later" }
finally:
  - { id: cleanup, run: "touch ${dir}/cleaned" }
`);
  const ac = new AbortController();
  const events: RunEvent[] = [];
  const p = runWorkflow(file, { signal: ac.signal, onEvent: (e) => events.push(e) });
  while (!events.some((e) => e.type === 'step-start')) await sleep(10);
  await sleep(100);
  ac.abort();
  const r = await p;
  assert.equal(r.ok, false);
  assert.equal(r.cancelled, true);
  assert.deepEqual(outcomes(r), ['long:cancelled/cancelled', 'later:skipped/skipped', 'cleanup:success/success']);
  assert.ok(existsSync(join(dir, 'cleaned')));
  assert.ok(!existsSync(join(dir, 'later')));
  assert.deepEqual(events.map((e) => e.type).filter((x) => x !== 'log'), ['run-start', 'step-start', 'step-end', 'step-end', 'step-start', 'step-end', 'run-end']);
});
