// The terminal structs cryo passes to ioctls: byte layout of termios / termios2, and dev_t splits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NCCS, decodeTermios, devMajor, devMinor, encodeTermios, type Termios } from '../../native/index.ts';

const RAW: Termios = {
  iflag: 0, oflag: 4, cflag: 0xbd, lflag: 0xa30, line: 0, ispeed: 9600, ospeed: 9600,
  cc: Array.from({ length: NCCS }, (_, i) => (i * 7 + 1) & 0xff),
};

test('termios2 (44 bytes) round-trips with its speeds; struct termios (36 bytes) has none', () => {
  const two = encodeTermios(RAW, 44);
  assert.equal(two.readUInt32LE(12), 0xa30, 'c_lflag at 12');
  assert.equal(two[17], RAW.cc[0], 'c_cc starts at 17');
  assert.equal(two.readUInt32LE(36), 9600, 'c_ispeed at 36');
  assert.deepEqual(decodeTermios(two), RAW);
  const one = encodeTermios(RAW, 36);
  assert.equal(one.length, 36);
  assert.deepEqual(decodeTermios(one), { ...RAW, ispeed: 0, ospeed: 0 });
});

test('dev_t splits as glibc does: /dev/ptmx 5:2, /dev/pts/3 136:3, /dev/pts/300 136:300', () => {
  assert.deepEqual([devMajor(0x502), devMinor(0x502)], [5, 2]);
  assert.deepEqual([devMajor(0x8803), devMinor(0x8803)], [136, 3]);
  const pts300 = (136 << 8) | (300 & 0xff) | ((300 & ~0xff) << 12);
  assert.deepEqual([devMajor(pts300), devMinor(pts300)], [136, 300]);
});
