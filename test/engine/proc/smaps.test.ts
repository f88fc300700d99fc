import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMaps, parseSmaps, readSmaps } from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';

const smaps = parseSmaps(fixture('proc/smaps-capture.txt'));

test('same VMAs as maps, with sizes and flags', () => {
  const maps = parseMaps(fixture('proc/maps-capture.txt'));
  assert.deepEqual(
    smaps.map((e) => [e.start, e.end, e.path, e.deleted]),
    maps.map((v) => [v.start, v.end, v.path, v.deleted]),
  );
  for (const e of smaps) assert.equal(BigInt(e.size) * 1024n, e.end - e.start);
  const heap = smaps.find((e) => e.path === '[heap]')!;
  assert.deepEqual(heap.vmFlags, ['rd', 'wr', 'mr', 'mw', 'me', 'ac']);
  assert.ok(heap.rss > 0 && heap.anonymous > 0);
  assert.equal(heap.swap, 0);
});

test('madvise flags: DONTDUMP, WIPEONFORK, growsdown, shared', () => {
  assert.ok(smaps.some((e) => e.path === '' && e.vmFlags.includes('dd')));
  assert.ok(smaps.some((e) => e.vmFlags.includes('wf')));
  assert.ok(smaps.find((e) => e.path === '[stack]')!.vmFlags.includes('gd'));
  assert.ok(smaps.find((e) => e.path.endsWith('with space.bin'))!.vmFlags.includes('sh'));
});

test('live: our own smaps', () => {
  const live = readSmaps(process.pid);
  assert.ok(live.length > 10);
  assert.ok(live.every((e) => e.vmFlags.length > 0));
});
