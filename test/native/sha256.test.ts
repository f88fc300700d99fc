// SHA-256 on libuv's pool through koffi's async calls. koffi refuses calls past the room in its
// queue; callInBackground holds back what would not fit and starts it as earlier calls end — so
// thousands submitted together all come out right.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { addressOf } from '../../native/index.ts';
import { sha256InBackground, sha256InBackgroundAvailable } from '../../native/sha256.ts';

test('5,000 SHA-256s submitted at once to the thread pool all finish, each with the right digest', { skip: !sha256InBackgroundAvailable() && 'no libcrypto.so.3' }, async () => {
  const bufs = Array.from({ length: 5000 }, (_, i) => Buffer.alloc(4096 + (i % 64), i & 0xff));
  const digests = await Promise.all(bufs.map((b) => sha256InBackground(addressOf(b), b.length)));
  for (const [i, b] of bufs.entries()) assert.equal(digests[i]!.toString('hex'), createHash('sha256').update(b).digest('hex'), `buffer ${i}`);
});
