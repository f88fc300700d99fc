// The wire codec on its own: the corner cases of proto2 that the image samples don't reach
// (packed input, unknown fields, fields out of order, 10-byte negative varints), and the
// schema table that `npm run build` writes in place of parsing the .proto files.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImageError } from '../../../errors.ts';
import { decodeMessage, encodeMessage, listMessages } from '../../../engine/images/index.ts';
import { buildSchemaTable, readSchemaTable, schemaDir, tableFile } from '../../../engine/images/schema-table.ts';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('negative int32 is a 10-byte varint, sint64 is zigzag, 64-bit values are exact', () => {
  const vma = { start: 0xffffffffffff0000n, end: 0x7fff00001000n, pgoff: 0n, shmid: 0n, prot: 3, flags: 0x22, status: 0x201, fd: -1n };
  const bytes = encodeMessage('vma_entry', vma);
  // field 8 (fd, sint64) = -1 → zigzag 1
  assert.ok(hex(bytes).endsWith('4001'), hex(bytes));
  assert.deepEqual(decodeMessage('vma_entry', bytes, 'x'), vma);
  // oom_score_adj (14, int32) = -1000: tag 0x70, then ten bytes.
  const tc = { task_state: 1, exit_code: 0, personality: 0, flags: 0, blk_sigset: 0n, comm: 'a', oom_score_adj: -1000 };
  const tcBytes = encodeMessage('task_core_entry', tc);
  assert.ok(hex(tcBytes).endsWith('7098f8ffffffffffffff01'), hex(tcBytes));
  assert.deepEqual(decodeMessage('task_core_entry', tcBytes, 'x'), tc);
});

test('fields out of order come out in field-number order; unknown fields are skipped', () => {
  // pstree_entry: pid=1 ppid=2 pgid=3 sid=4; written sid first, plus unknown field 15 of each wire type.
  const bytes = Buffer.from([0x20, 4, 0x08, 1, 0x10, 2, 0x78, 0x96, 0x01, 0x7a, 2, 0xaa, 0xbb, 0x79, 1, 2, 3, 4, 5, 6, 7, 8, 0x7d, 1, 2, 3, 4, 0x18, 3]);
  const e = decodeMessage('pstree_entry', bytes, 'x');
  assert.deepEqual(Object.keys(e), ['pid', 'ppid', 'pgid', 'sid']);
  assert.deepEqual(e, { pid: 1, ppid: 2, pgid: 3, sid: 4 });
});

test('packed repeated scalars decode like unpacked ones', () => {
  const unpacked = encodeMessage('pstree_entry', { pid: 1, ppid: 0, pgid: 1, sid: 1, threads: [1, 300] });
  const packed = Buffer.from([0x08, 1, 0x10, 0, 0x18, 1, 0x20, 1, 0x2a, 3, 1, 0xac, 0x02]);
  assert.deepEqual(decodeMessage('pstree_entry', packed, 'x'), decodeMessage('pstree_entry', unpacked, 'x'));
});

test('damaged messages are ImageErrors', () => {
  const bad = (bytes: number[], pattern: RegExp): void =>
    assert.throws(() => decodeMessage('pstree_entry', Buffer.from(bytes), 'f: entry at byte 8'), (e: unknown) => e instanceof ImageError && pattern.test(e.message));
  bad([0x08, 1, 0x10, 2, 0x18, 3], /^f: entry at byte 8: bad pstree_entry: missing required 'sid'/);
  bad([0x08, 0x80], /index out of range/);
  bad([0x0a, 1, 1], /pid: wire type 2, expected 0/);
  bad([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /invalid varint/);
});

test('the schema table is current, and a stale one is not used', () => {
  const fresh = buildSchemaTable();
  assert.ok(listMessages().includes('vma_entry'));
  assert.deepEqual(listMessages(), Object.keys(fresh.messages).sort());
  // After `npm run build` / `npm test` the table in dist/ matches the .proto files.
  assert.ok(existsSync(tableFile()), `${tableFile()} is missing: npm run build writes it`);
  assert.deepEqual(readSchemaTable(schemaDir()), fresh, `${tableFile()} is stale: run npm run build`);
  const dir = mkdtempSync(join(tmpdir(), 'cryo-schema-'));
  try {
    writeFileSync(join(dir, 'ok.json'), JSON.stringify(fresh));
    writeFileSync(join(dir, 'stale.json'), JSON.stringify({ ...fresh, digest: '0'.repeat(64) }));
    assert.deepEqual(readSchemaTable(schemaDir(), join(dir, 'ok.json')), fresh);
    assert.equal(readSchemaTable(schemaDir(), join(dir, 'stale.json')), undefined);
    assert.equal(readSchemaTable(schemaDir(), join(dir, 'none.json')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
