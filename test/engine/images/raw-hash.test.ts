// Raw images (pages) are hashed while they are written: small ones inline, large ones on a
// worker thread from a ring of shared buffers. Either way the manifest holds the SHA-256 of
// exactly the bytes in the file, whatever buffers they were written from.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { ImageReader, ImageWriter } from '../../../engine/images/index.ts';

let dir = '';
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cryo-rawhash-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function manifestHash(name: string): string {
  return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).files[name].sha256;
}

function fileHash(name: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, name))).digest('hex');
}

const CASES = [
  ['inline', 0, false],
  ['worker ring', 256 * 1024 * 1024, false],
  // The worker starts after the first buffers are written: the ring fills, the rest is read back.
  ['worker ring, writer going ahead', 256 * 1024 * 1024, true],
] as const;

for (const [label, expectedBytes, copyAhead] of CASES) {
  test(`raw image hashed (${label}): own buffers, partly filled, and foreign buffers of any size`, () => {
    const w = new ImageWriter(dir, { copyAhead });
    const out = w.openRaw('pages-1.img', { expectedBytes });
    let seed = 1;
    // More buffers than the ring has slots, so slots are reused.
    for (let i = 0; i < 11; i++) {
      const b = out.buffer();
      const n = i % 3 === 0 ? b.length : Math.min(b.length, 4096 * (i + 1));
      for (let off = 0; off < n; off += 4096) b.fill(seed++ & 0xff, off, off + 4096);
      out.write(b.subarray(0, n));
      if (i % 4 === 1) out.write(Buffer.alloc(5 * 1024 * 1024 + 4096, seed++)); // larger than a slot
      if (i % 4 === 2) out.write(Buffer.from('not a whole page'));
    }
    out.close();
    w.finish();
    assert.equal(manifestHash('pages-1.img'), fileHash('pages-1.img'));
    new ImageReader(dir).verify();
  });
}

test('a large raw image is verified in the background at restore, and a flipped byte is caught', () => {
  const w = new ImageWriter(dir);
  const out = w.openRaw('pages-1.img', { expectedBytes: 256 * 1024 * 1024 });
  out.write(Buffer.alloc(20 * 1024 * 1024, 7)); // ≥ 16 MiB: hashed by a worker at restore
  out.close();
  w.finish();
  new ImageReader(dir).verifyDeferred().wait();
  const fd = fs.openSync(path.join(dir, 'pages-1.img'), 'r+');
  fs.writeSync(fd, Buffer.from([8]), 0, 1, 12345678);
  fs.closeSync(fd);
  assert.throws(() => new ImageReader(dir).verifyDeferred().wait(), /pages-1\.img: sha256 mismatch/);
});
