// A file mapped read-only for hashing: the pool hasher needs only its address, so mapFile makes
// no ArrayBuffer over it until one is asked for — V8 counts such a buffer's size as external
// memory and collects garbage for it (a 512 MiB dump's 64 pieces set off 7-8 full collections).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { mapFile } from '../../native/index.ts';
import { sha256InBackground, sha256InBackgroundAvailable } from '../../native/sha256.ts';

test('mapFile makes no ArrayBuffer until .bytes is used; the bytes and their hash are the file', { skip: !sha256InBackgroundAvailable() && 'no libcrypto.so.3' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cryo-filemap-'));
  try {
    const file = path.join(dir, 'f');
    const data = Buffer.alloc(8 << 20);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
    fs.writeFileSync(file, data);
    const fd = fs.openSync(file, 'r');
    try {
      const before = process.memoryUsage().external;
      const maps = Array.from({ length: 8 }, () => mapFile(fd, data.length));
      try {
        // 8 mappings of 8 MiB: with a view each, V8's external memory would grow by 64 MiB.
        assert.ok(process.memoryUsage().external - before < 8 << 20, 'no external memory for unused views');
        const digest = await sha256InBackground(maps[0]!.address, data.length);
        assert.equal(digest.toString('hex'), createHash('sha256').update(data).digest('hex'));
        const view = maps[1]!.bytes;
        assert.equal(view, maps[1]!.bytes, 'one view per mapping');
        assert.ok(Buffer.from(view).equals(data));
        assert.ok(process.memoryUsage().external - before >= 8 << 20, 'a view once asked for');
      } finally {
        for (const m of maps) m.unmap();
      }
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
