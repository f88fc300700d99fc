import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseKbFields, readMeminfo, readStatusMemory } from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';

test('parseKbFields: meminfo, smaps_rollup and status, in bytes; lines without kB are left out', () => {
  const mem = parseKbFields(fixture('proc/meminfo-capture.txt'));
  assert.ok(mem['MemTotal']! > mem['MemAvailable']! && mem['MemAvailable']! > 0);
  assert.equal(mem['MemTotal']! % 1024, 0);
  const roll = parseKbFields(fixture('proc/smaps_rollup-capture.txt'));
  assert.ok(roll['Rss']! >= roll['Anonymous']! && roll['Anonymous']! > 0);
  assert.ok(!Object.keys(roll).some((k) => k.includes('-')), 'the address range line is not a field');
  assert.deepEqual(parseKbFields('Shmem:   12 kB\nHugePages_Total:       0\n'), { Shmem: 12 * 1024 });
  const status = parseKbFields(fixture('proc/status-capture.txt'));
  assert.ok(status['VmRSS']! >= status['RssAnon']! && status['RssAnon']! > 0);
  assert.equal(status['Threads'], undefined);
});

test('live: our own memory and the machine\'s', () => {
  assert.ok(readStatusMemory(process.pid)['RssAnon']! > 0);
  assert.ok(readStatusMemory(process.pid)['VmRSS']! >= readStatusMemory(process.pid)['RssAnon']!);
  assert.ok(readMeminfo()['MemAvailable']! > 0);
});
