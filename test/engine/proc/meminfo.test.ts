import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseKbFields, readMeminfo, readSmapsRollup } from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';

test('parseKbFields: meminfo and smaps_rollup, in bytes; the header line is left out', () => {
  const mem = parseKbFields(fixture('proc/meminfo-capture.txt'));
  assert.ok(mem['MemTotal']! > mem['MemAvailable']! && mem['MemAvailable']! > 0);
  assert.equal(mem['MemTotal']! % 1024, 0);
  const roll = parseKbFields(fixture('proc/smaps_rollup-capture.txt'));
  assert.ok(roll['Rss']! >= roll['Anonymous']! && roll['Anonymous']! > 0);
  assert.ok(!Object.keys(roll).some((k) => k.includes('-')), 'the address range line is not a field');
  assert.deepEqual(parseKbFields('Shmem:   12 kB\nHugePages_Total:       0\n'), { Shmem: 12 * 1024 });
});

test('live: our own memory and the machine\'s', () => {
  assert.ok(readSmapsRollup(process.pid)['Anonymous']! > 0);
  assert.ok(readMeminfo()['MemAvailable']! > 0);
});
