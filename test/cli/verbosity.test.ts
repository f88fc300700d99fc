import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rewriteVerbosity } from '../../cli/main.ts';

test("CRIU's -vN, -v and -vv… become --verbosity; arguments after -- are left alone", () => {
  assert.deepEqual(rewriteVerbosity(['dump', '-v4', '-t', '1']), ['dump', '--verbosity', '4', '-t', '1']);
  assert.deepEqual(rewriteVerbosity(['-v']), ['--verbosity', '3']);
  assert.deepEqual(rewriteVerbosity(['-vv']), ['--verbosity', '4']);
  assert.deepEqual(rewriteVerbosity(['restore', '--exec-cmd', '--', 'sh', '-v']), ['restore', '--exec-cmd', '--', 'sh', '-v']);
});
