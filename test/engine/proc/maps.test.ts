import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMaps, PROT_EXEC, PROT_READ, PROT_WRITE, readMaps, withoutArea } from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';

const maps = parseMaps(fixture('proc/maps-capture.txt'));

test('every line parses, in order', () => {
  assert.equal(maps.length, 31);
  for (let i = 1; i < maps.length; i++) assert.ok(maps[i - 1]!.end <= maps[i]!.start);
});

test('a file mapping', () => {
  const libc = maps.find((v) => v.path.endsWith('libc.so.6') && v.prot === (PROT_READ | PROT_EXEC))!;
  assert.equal(libc.start, 0x7fc46e760000n);
  assert.equal(libc.end, 0x7fc46e8b6000n);
  assert.equal(libc.offset, 0x26000n);
  assert.deepEqual([libc.dev, libc.devMajor, libc.devMinor, libc.inode, libc.shared, libc.deleted], ['fe:00', 0xfe, 0, 339380, false, false]);
});

test('a path with a space, and a deleted file', () => {
  const spaced = maps.find((v) => v.path === '/tmp/cryo fixture/with space.bin');
  assert.ok(spaced);
  assert.equal(spaced.shared, true);
  assert.equal(spaced.prot, PROT_READ | PROT_WRITE);
  const gone = maps.find((v) => v.path === '/tmp/cryo fixture/gone.bin');
  assert.ok(gone);
  assert.equal(gone.deleted, true);
  assert.equal(gone.inode, 2146889);
});

test('anonymous and special mappings', () => {
  const none = maps.find((v) => v.start === 0x7fc46df36000n)!;
  assert.deepEqual([none.path, none.prot, none.inode, none.dev], ['', 0, 0, '00:00']);
  const special = maps.filter((v) => v.path.startsWith('[')).map((v) => v.path);
  assert.deepEqual(special, ['[heap]', '[vvar]', '[vvar_vclock]', '[vdso]', '[stack]', '[vsyscall]']);
  const vsyscall = maps.at(-1)!;
  assert.equal(vsyscall.start, 0xffffffffff600000n); // above 2^63: must stay a bigint
  assert.equal(vsyscall.prot, PROT_EXEC);
});

test('live: our own maps', () => {
  const live = readMaps(process.pid);
  assert.ok(live.some((v) => v.path === '[stack]'));
  assert.ok(live.some((v) => v.path === process.execPath));
});

test('withoutArea: a VMA inside the area goes, one it was merged into is cut around it', () => {
  const [a, b] = parseMaps(
    '7f0000000000-7f0000010000 rwxp 7f0000000000 00:00 0 \n' + '7f0000100000-7f0000140000 rwxp 7f0000100000 00:00 0 \n',
  ) as [ReturnType<typeof parseMaps>[number], ReturnType<typeof parseMaps>[number]];
  // Alone: gone, its neighbours kept.
  assert.deepEqual(withoutArea([a, b], a.start, a.end), [b]);
  // Merged into b's middle: b before and after it, the second part's offset moved along.
  const cut = withoutArea([a, b], 0x7f0000110000n, 0x7f0000120000n);
  assert.equal(cut.length, 3);
  assert.deepEqual(cut.slice(1).map((v) => [v.start, v.end, v.offset]), [
    [0x7f0000100000n, 0x7f0000110000n, 0x7f0000100000n],
    [0x7f0000120000n, 0x7f0000140000n, 0x7f0000120000n],
  ]);
  // At b's end: only its start remains.
  assert.deepEqual(withoutArea([b], 0x7f0000130000n, 0x7f0000140000n).map((v) => [v.start, v.end]), [[0x7f0000100000n, 0x7f0000130000n]]);
});
