import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuntimeError } from '../../../errors.ts';
import { parseLimits, readLimits, RLIM_INFINITY, RLIMIT_NAMES } from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';

test('16 limits in RLIMIT_ order, unlimited as all ones', () => {
  const l = parseLimits(fixture('proc/limits-capture.txt'));
  assert.deepEqual(l.map((x) => x.name), [...RLIMIT_NAMES]);
  assert.deepEqual(l[0], { name: 'Max cpu time', soft: RLIM_INFINITY, hard: RLIM_INFINITY });
  assert.deepEqual(l[3], { name: 'Max stack size', soft: 8388608n, hard: RLIM_INFINITY });
  assert.deepEqual(l[7], { name: 'Max open files', soft: 777n, hard: 20000n });
  // no units column
  assert.deepEqual(l[13], { name: 'Max nice priority', soft: 0n, hard: 0n });
});

test('truncated or reordered limits are refused', () => {
  const text = fixture('proc/limits-capture.txt');
  assert.throws(() => parseLimits(text.split('\n').slice(0, 10).join('\n')), RuntimeError);
  const lines = text.split('\n');
  [lines[1], lines[2]] = [lines[2]!, lines[1]!];
  assert.throws(() => parseLimits(lines.join('\n')), RuntimeError);
});

test('live: our own limits', () => {
  assert.equal(readLimits(process.pid).length, 16);
});
