// How restore divides a process's pages between the task (preadv) and cryo (another thread).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitRuns } from '../../../engine/objects/memory.ts';

const runs = [
  { addr: 0x10000n, len: 8192 },
  { addr: 0x40000n, len: 16384 },
  { addr: 0x90000n, len: 4096 },
];

test('splitRuns cuts a run at the byte given and keeps the order on both sides', () => {
  assert.deepEqual(splitRuns(runs, 12288), [
    [{ addr: 0x10000n, len: 8192 }, { addr: 0x40000n, len: 4096 }],
    [{ addr: 0x41000n, len: 12288 }, { addr: 0x90000n, len: 4096 }],
  ]);
});

test('splitRuns at a run boundary, at 0 and at the end', () => {
  assert.deepEqual(splitRuns(runs, 8192), [[runs[0]], [runs[1], runs[2]]]);
  assert.deepEqual(splitRuns(runs, 0), [[], runs]);
  assert.deepEqual(splitRuns(runs, 28672), [runs, []]);
});
