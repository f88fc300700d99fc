// The expression language: what it accepts, what it refuses, and that nothing reaches JavaScript.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluate, parseExpr, parseTemplate } from '../../runner/index.ts';
import type { EvalContext } from '../../runner/index.ts';
import { ExprSyntaxError, renderTemplate } from '../../runner/expr.ts';

const ctx: EvalContext = {
  inputs: { pid: 42, name: 'app', on: true },
  vars: { images: '/var/lib/cryo/42' },
  env: { HOME: '/root' },
  steps: { dump: { outputs: { pid: 42, stats: { pages_written: 10 }, 'my-key': 'x' }, outcome: 'success', conclusion: 'success' } },
  failed: false,
  cancelled: false,
};
const ev = (s: string): unknown => evaluate(parseExpr(s), ctx);

test('property access, literals, comparisons, logic', () => {
  assert.equal(ev('inputs.pid'), 42);
  assert.equal(ev("steps.dump.outputs['my-key']"), 'x');
  assert.equal(ev('steps.dump.outputs.stats.pages_written > 5'), true);
  assert.equal(ev("inputs.name == 'app' && !(inputs.pid < 10)"), true);
  assert.equal(ev("inputs.pid == '42'"), true);
  assert.equal(ev('inputs.missing || 7'), 7);
  assert.equal(ev("'it''s'"), "it's");
  assert.equal(ev('success() && !failure() && always() && !cancelled()'), true);
  assert.equal(ev('steps.nope.outputs.pid'), undefined);
});

test('templates keep the type of a lone expression, stringify otherwise', () => {
  assert.equal(renderTemplate(parseTemplate('${{ inputs.pid }}'), ctx), 42);
  assert.equal(renderTemplate(parseTemplate('pid=${{ inputs.pid }} dir=${{ vars.images }}'), ctx), 'pid=42 dir=/var/lib/cryo/42');
});

test('no path to JavaScript: prototypes, constructors and unknown names are refused', () => {
  assert.equal(ev('inputs.constructor'), undefined);
  assert.equal(ev("inputs['__proto__']"), undefined);
  assert.equal(ev('inputs.name.length'), undefined);
  assert.throws(() => parseExpr('process.exit()'), /unknown function "exit\(\)"|unknown name "process"/);
  assert.throws(() => parseExpr('input.pid'), /unknown name "input".*did you mean "inputs"/);
  assert.throws(() => parseExpr('inputs.pid = 1'), (e: unknown) => e instanceof ExprSyntaxError && e.at === 11);
  assert.throws(() => parseTemplate('a ${{ inputs.pid '), /unterminated "\$\{\{"/);
  assert.throws(() => parseExpr('(inputs.pid'), /expected a closing "\)"/);
});
