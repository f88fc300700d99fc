// Validation over malformed files: every issue with the right line and column, golden output.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import type { DumpOptions } from '../../engine/api.ts';
import { WorkflowInvalidError, engineFunctions, formatIssues, planFile, readWorkflowText, runWorkflow, validateFiles, type EnginePort } from '../../runner/index.ts';
import { ROOT, fixtures, golden, tmp, workflow } from './helpers.ts';

const rel = (p: string): string => relative(ROOT, p);

async function issuesOf(name: string): Promise<{ at: string; message: string }[]> {
  const [r] = await validateFiles([rel(fixtures(`invalid/${name}`))]);
  return r!.issues.map((i) => ({ at: `${i.pos.line}:${i.pos.col}`, message: i.message }));
}

test('golden output of every invalid fixture', async () => {
  const dir = fixtures('invalid');
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    const file = rel(join(dir, name));
    let text: string;
    if (name === 'missing-required-input.yaml') {
      const e = await planFile(file).catch((x: unknown) => x);
      assert.ok(e instanceof WorkflowInvalidError, name);
      text = e.message;
    } else {
      const [r] = await validateFiles([file]);
      assert.ok(r!.issues.length > 0, `${name} should be invalid`);
      text = formatIssues(r!.issues);
    }
    const g = golden(join(dir, name.replace(/\.yaml$/, '.expected.txt')), `${text}\n`);
    assert.equal(g.actual, g.expected, `${name}: output differs from golden (UPDATE_GOLDEN=1 to regenerate)`);
  }
});

test('unknown key: position of the key, did-you-mean', async () => {
  const [i, ...rest] = await issuesOf('unknown-key.yaml');
  assert.equal(rest.length, 0);
  assert.equal(i!.at, '5:5');
  assert.match(i!.message, /unknown key "timout".*did you mean "timeout"\?/);
});

test('wrong type: position of the value, expected and found', async () => {
  const issues = await issuesOf('wrong-type.yaml');
  assert.deepEqual(issues.map((i) => i.at), ['7:22', '9:21']);
  assert.match(issues[0]!.message, /steps\[0\]\.dump\.leave-running: .*expected true or false.*found string "yes please"/);
  assert.match(issues[1]!.message, /steps\[1\]\.retry\.limit: wrong type \(expected an integer, found string "three"\)/);
});

test('bad expressions: syntax and unknown names, each at its column', async () => {
  const issues = await issuesOf('bad-expression.yaml');
  assert.deepEqual(issues.map((i) => i.at), ['7:43', '8:20', '9:9']);
  assert.match(issues[0]!.message, /unexpected character "=" \(did you mean "=="\?\)/);
  assert.match(issues[1]!.message, /unknown input "pdi".*did you mean "pid"/);
  assert.match(issues[2]!.message, /unknown step "dmp".*did you mean "dump"/);
});

test('bad YAML: the syntax error with its position', async () => {
  const issues = await issuesOf('bad-yaml.yaml');
  assert.equal(issues.length, 1);
  assert.equal(issues[0]!.message, 'YAML syntax error: bad indentation of a mapping entry');
  assert.equal(issues[0]!.at, '5:11');
});

test('duplicate key is an error at the second key', async () => {
  const issues = await issuesOf('duplicate-key.yaml');
  assert.equal(issues.length, 1);
  assert.equal(issues[0]!.at, '5:5');
  assert.match(issues[0]!.message, /duplicated mapping key/);
});

test('a step needs exactly one kind', async () => {
  const issues = await issuesOf('missing-kind.yaml');
  assert.deepEqual(issues.map((i) => i.at), ['3:5', '5:5']);
  assert.match(issues[0]!.message, /missing one of "pre-dump", "dump", "transfer", "restore", "run"/);
  assert.match(issues[1]!.message, /more than one of .*found "restore", "run"/);
});

test('duplicate step id', async () => {
  const issues = await issuesOf('duplicate-id.yaml');
  assert.equal(issues.length, 1);
  assert.equal(issues[0]!.at, '5:9');
  assert.match(issues[0]!.message, /duplicate id "same".*line 3/);
});

test('missing required input: reported at plan time, at its declaration', async () => {
  const file = rel(fixtures('invalid/missing-required-input.yaml'));
  const [r] = await validateFiles([file]);
  assert.equal(r!.issues.length, 0, 'the file itself is valid');
  const e = await planFile(file).catch((x: unknown) => x);
  assert.ok(e instanceof WorkflowInvalidError);
  assert.equal(e.exitCode, 2);
  assert.equal(e.issues.length, 1);
  assert.deepEqual([e.issues[0]!.pos.line, e.issues[0]!.pos.col], [4, 3]);
  assert.match(e.issues[0]!.message, /required input missing \(expected --input pid=<integer>: process tree to checkpoint\)/);
  await planFile(file, { inputs: { pid: '12' } });
  const bad = await planFile(file, { inputs: { pid: 'twelve' } }).catch((x: unknown) => x);
  assert.ok(bad instanceof WorkflowInvalidError);
  assert.match(bad.message, /inputs\.pid: wrong type \(expected an integer, found "twelve"\)/);
});

test('every error of a file at once, as file:line:col with a code frame', () => {
  const text = 'version: 1\nnme: x\nsteps:\n  - run: 1\n    timeout: soon\n';
  const e = ((): unknown => {
    try {
      return readWorkflowText('w.yaml', text);
    } catch (x) {
      return x;
    }
  })();
  assert.ok(e instanceof WorkflowInvalidError);
  assert.equal(e.issues.length, 3);
  assert.match(e.message, /^3 problems found\n\nw\.yaml:2:1  \(top level\): unknown key "nme" .*did you mean "name"\?\)\n  1 \| version: 1\n  2 \| nme: x\n    \| \^/);
});

test('valid fixtures and the shipped workflows validate', async () => {
  const files = [
    ...readdirSync(fixtures('valid')).map((f) => rel(fixtures(`valid/${f}`))),
    ...readdirSync(join(ROOT, 'workflows')).filter((f) => f.endsWith('.yaml')).map((f) => `workflows/${f}`),
  ];
  assert.ok(files.length >= 5);
  for (const r of await validateFiles(files.map((f) => join(ROOT, f)))) assert.deepEqual(r.issues.map((i) => i.message), [], r.file);
});

test('dump: file-locks takes a boolean or an expression, and reaches the engine as fileLocks', async (t) => {
  const wf = (v: string): string => `version: 1\ninputs: { locks: { type: boolean, default: true } }\nsteps:\n  - dump: { pid: 1234, file-locks: ${v} }\n`;
  readWorkflowText('ok.yaml', wf('true'));
  readWorkflowText('expr.yaml', wf('"${{ inputs.locks }}"'));
  const e = ((): unknown => {
    try {
      return readWorkflowText('bad.yaml', wf('sure'));
    } catch (x) {
      return x;
    }
  })();
  assert.ok(e instanceof WorkflowInvalidError);
  assert.equal(e.issues.length, 1);
  assert.deepEqual([e.issues[0]!.pos.line, e.issues[0]!.pos.col], [4, 36]);
  assert.match(e.issues[0]!.message, /steps\[0\]\.dump\.file-locks: wrong value \(expected true or false or an expression/);

  const seen: DumpOptions[] = [];
  const engine: EnginePort = {
    ...engineFunctions(),
    dump: async (o) => {
      seen.push(o);
      return { imagesDir: o.imagesDir, pids: [o.pid], final: 'killed', stats: { freezing_time: 0, frozen_time: 0, memdump_time: 0, memwrite_time: 0, pages_scanned: 0, pages_skipped_parent: 0, pages_written: 0, image_bytes: 0 } };
    },
  };
  const dir = tmp(t);
  for (const v of ['"${{ inputs.locks }}"', 'false']) {
    const r = await runWorkflow(workflow(dir, wf(v).replace('pid: 1234', `pid: 1234, dir: ${dir}/img`)), { engine });
    assert.equal(r.ok, true, String((r.error as Error | undefined)?.message));
  }
  assert.deepEqual(seen.map((o) => o.fileLocks), [true, false]);
});
