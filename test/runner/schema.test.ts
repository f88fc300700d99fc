// The schema is the contract with editors: draft-07, documented everywhere, kinds = STEP_KINDS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { HOOK_NAMES, STEP_KINDS, workflowSchema } from '../../runner/index.ts';

type S = Record<string, unknown>;

test('draft-07 and compiles in ajv strict mode', () => {
  const s = workflowSchema();
  assert.equal(s.$schema, 'http://json-schema.org/draft-07/schema#');
  new Ajv({ allowUnionTypes: true }).compile(s);
});

test('the step kinds of the schema are the keys of STEP_KINDS', () => {
  const step = (workflowSchema().definitions as S).step as S;
  const kinds = (step.oneOf as S[]).map((b) => (b.required as string[])[0]);
  assert.deepEqual(kinds, Object.keys(STEP_KINDS));
  for (const k of kinds) assert.ok(k! in (step.properties as S), k);
});

test('hook names are CRIU action names', () => {
  const hooks = ((workflowSchema().properties as S).hooks as S).properties as S;
  assert.deepEqual(Object.keys(hooks), [...HOOK_NAMES]);
});

test('every property has description, default and examples; objects are closed', () => {
  const missing: string[] = [];
  const walk = (s: unknown, path: string): void => {
    if (Array.isArray(s)) return s.forEach((x, i) => walk(x, `${path}/${i}`));
    if (s === null || typeof s !== 'object') return;
    const o = s as S;
    if (o.properties) {
      if (o.additionalProperties !== false) missing.push(`${path}: additionalProperties is not false`);
      for (const [k, p] of Object.entries(o.properties as S)) {
        for (const need of ['description', 'default', 'examples']) if (!(need in (p as S))) missing.push(`${path}/properties/${k}: no ${need}`);
      }
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'default' && k !== 'examples') walk(v, `${path}/${k}`);
  };
  walk(workflowSchema(), '#');
  assert.deepEqual(missing, []);
});
