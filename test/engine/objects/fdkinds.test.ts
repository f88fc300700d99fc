import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnsupportedError } from '../../../errors.ts';
import { lockEntry } from '../../../engine/objects/file-locks.ts';
import { handleWords } from '../../../engine/objects/inotify.ts';
import { parseFdinfo, parseLockLine, parseLocks } from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';

test('inotify: a watch handle becomes at least 16 little-endian u64 words, as CRIU stores it', () => {
  const [w] = parseFdinfo(fixture('proc/fdinfo-7.txt')).inotify;
  const words = handleWords(w!.fhandle!.handle);
  assert.equal(words.length, 16);
  assert.equal(words[0], 0x3f7e8n); // e8f7030000000000
  assert.ok(words.slice(1).every((x) => x === 0n));
  assert.equal(handleWords('01'.repeat(136)).length, 17);
});

test('file locks: kinds, types and lengths as file_lock_entry has them', () => {
  const [ofd, flock, read, write] = parseLocks(fixture('proc/locks-capture.txt'));
  assert.deepEqual(lockEntry(7, 3, write!), { flag: 1, type: 1, pid: 7, fd: 3, start: 10n, len: 20n });
  assert.deepEqual(lockEntry(7, 3, read!), { flag: 1, type: 0, pid: 7, fd: 3, start: 100n, len: 0n });
  assert.deepEqual(lockEntry(7, 4, flock!), { flag: 2, type: 1, pid: 7, fd: 4, start: 0n, len: 0n });
  assert.equal(lockEntry(7, 5, ofd!).flag, 4);
  assert.throws(() => lockEntry(7, 5, parseLockLine('1: LEASE  ACTIVE    READ 5811 fe:00:2146892 0 EOF')), UnsupportedError);
});
