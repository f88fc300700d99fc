import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuntimeError } from '../../../errors.ts';
import { parseStat, readStat } from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';

test('comm with ") (" and spaces, every field by proc(5) number', () => {
  const s = parseStat(fixture('proc/stat-paren-comm.txt'));
  assert.equal(s.comm, 'a) (b c');
  assert.deepEqual(
    [s.pid, s.state, s.ppid, s.pgrp, s.session, s.ttyNr, s.tpgid, s.flags, s.nice, s.numThreads],
    [5811, 'S', 5802, 5759, 2555, 0, -1, 4194304, 0, 2],
  );
  assert.equal(s.startTime, 54367n);
  assert.equal(s.startCode, 94510737899520n);
  assert.equal(s.endCode, 94510737902137n);
  assert.equal(s.startStack, 140721822996560n);
  assert.equal(s.exitSignal, 17);
  assert.equal(s.startData, 94510737911248n);
  assert.equal(s.endData, 94510737912160n);
  assert.equal(s.startBrk, 94511719731200n);
  assert.deepEqual([s.argStart, s.argEnd, s.envStart, s.envEnd], [140721823001262n, 140721823001290n, 140721823001290n, 140721823002588n]);
  assert.equal(s.exitCode, 0);
});

test('a kernel thread and a plain process', () => {
  const k = parseStat(fixture('proc/stat-kthreadd.txt'));
  assert.deepEqual([k.pid, k.comm, k.ppid, k.startCode], [2, 'kthreadd', 0, 0n]);
  const c = parseStat(fixture('proc/stat-self.txt'));
  assert.equal(c.comm, 'cat');
  assert.ok(c.startBrk > 0n);
});

test('garbage is a RuntimeError naming the file', () => {
  assert.throws(() => parseStat('123 no comm'), (e: unknown) => e instanceof RuntimeError && /stat/.test(e.message));
  assert.throws(() => parseStat('1 (x) S 0 0'), RuntimeError);
});

test('live: our own stat', () => {
  const s = readStat(process.pid);
  assert.equal(s.pid, process.pid);
  assert.equal(s.ppid, process.ppid);
  assert.throws(() => readStat(0x3fffffff), (e: unknown) => e instanceof RuntimeError && /\/proc\/1073741823\/stat/.test(e.message));
});
