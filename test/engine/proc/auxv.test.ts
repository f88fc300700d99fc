import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuntimeError } from '../../../errors.ts';
import { parseAuxv, readAuxv } from '../../../engine/proc/index.ts';
import { fixtureBuffer } from '../../helpers/repo.ts';

const AT_PAGESZ = 6n;
const AT_ENTRY = 9n;

test('pairs up to and including AT_NULL', () => {
  const buf = fixtureBuffer('proc/auxv-capture.bin');
  const w = parseAuxv(buf);
  assert.equal(w.length, buf.length / 8);
  assert.deepEqual(w.slice(-2), [0n, 0n]);
  const get = (type: bigint): bigint | undefined => w[w.findIndex((x, i) => i % 2 === 0 && x === type) + 1];
  assert.equal(get(AT_PAGESZ), 4096n);
  assert.ok(get(AT_ENTRY)! > 0n);
});

test('words after AT_NULL are dropped; bad lengths refused', () => {
  const b = Buffer.alloc(48);
  b.writeBigUInt64LE(6n, 0);
  b.writeBigUInt64LE(4096n, 8);
  b.writeBigUInt64LE(7n, 32);
  assert.deepEqual(parseAuxv(b), [6n, 4096n, 0n, 0n]);
  assert.throws(() => parseAuxv(Buffer.alloc(12)), RuntimeError);
  assert.throws(() => parseAuxv(b.subarray(0, 16)), RuntimeError);
});

test('live: our own auxv', () => {
  assert.ok(readAuxv(process.pid).length >= 4);
});
