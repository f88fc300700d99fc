import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMountinfo, readMountinfo } from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';

test('captured mountinfo', () => {
  const m = parseMountinfo(fixture('proc/mountinfo-capture.txt'));
  const proc = m.find((x) => x.mountPoint === '/proc')!;
  assert.deepEqual([proc.mntId, proc.fsType, proc.source, proc.devMajor], [22, 'proc', 'proc', 0]);
  assert.ok(m.some((x) => x.mountPoint === '/'));
});

test('escaped paths and optional fields', () => {
  const [x] = parseMountinfo('40 22 0:35 / /mnt/a\\040b rw,relatime shared:5 master:1 - tmpfs tmp\\040fs rw\n');
  assert.equal(x!.mountPoint, '/mnt/a b');
  assert.equal(x!.source, 'tmp fs');
  assert.deepEqual(x!.optional, ['shared:5', 'master:1']);
});

test('live: our own mountinfo', () => {
  assert.ok(readMountinfo(process.pid).length > 0);
});
