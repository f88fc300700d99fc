import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coversSegment, groupAttachments, shmEntry } from '../../../engine/objects/sysv-shm.ts';
import { decodeMessage, encodeMessage } from '../../../engine/images/index.ts';
import { parseShmidDs } from '../../../native/index.ts';

const vma = (start: number, end: number, pgoff: number, shmid = 7, prot = 3): Record<string, unknown> => ({
  start: BigInt(start), end: BigInt(end), pgoff: BigInt(pgoff), shmid: BigInt(shmid), prot,
});

test('attachments: grouped by segment and address, split VMAs joined, holes and short ones refused', () => {
  const groups = groupAttachments([vma(0x3000, 0x5000, 0x1000), vma(0x2000, 0x3000, 0, 7, 1), vma(0x9000, 0xa000, 0, 8)]);
  assert.deepEqual(groups.map((g) => [g.shmid, g.base, g.vmas.length]), [[7, 0x2000n, 2], [8, 0x9000n, 1]]);
  assert.equal(coversSegment(groups[0]!, 3n * 4096n), true);
  assert.equal(coversSegment(groups[0]!, 2n * 4096n + 1n), true, 'size rounded up to pages');
  assert.equal(coversSegment(groups[0]!, 4n * 4096n), false, 'the tail is not attached');
  assert.equal(coversSegment(groupAttachments([vma(0x2000, 0x3000, 0), vma(0x4000, 0x5000, 0x2000)])[0]!, 3n * 4096n), false, 'a hole');
});

test('struct shmid64_ds → ipc_shm_entry (mode keeps SHM_DEST), encodes as CRIU', () => {
  const b = Buffer.alloc(112);
  [0x1234, 1000, 100, 0, 0, 0o1640].forEach((v, i) => b.writeUInt32LE(v, i * 4));
  b.writeBigUInt64LE(12388n, 48);
  b.writeBigUInt64LE(2n, 88);
  const ds = parseShmidDs(b);
  assert.deepEqual([ds.key, ds.uid, ds.gid, ds.mode, ds.size, ds.nattch], [0x1234, 1000, 100, 0o1640, 12388n, 2n]);
  const e = shmEntry(32770, ds);
  assert.deepEqual(e, { desc: { key: 0x1234, uid: 1000, gid: 100, cuid: 0, cgid: 0, mode: 0o1640, id: 32770 }, size: 12388n, in_pagemaps: false });
  const back = decodeMessage('ipc_shm_entry', encodeMessage('ipc_shm_entry', e), 'test');
  assert.equal((back.desc as Record<string, unknown>).id, 32770);
});
