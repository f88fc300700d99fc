// Raw images (pages) are hashed while they are written: small ones inline, large ones on a
// worker thread from a ring of shared buffers. Either way the manifest holds the SHA-256 of
// exactly the bytes in the file, whatever buffers they were written from.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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

test('pages this boot wrote and nobody touched since are trusted at restore; copies, edits, another boot are hashed', () => {
  const w = new ImageWriter(dir);
  const out = w.openRaw('pages-1.img', { expectedBytes: 256 * 1024 * 1024 });
  out.write(Buffer.alloc(20 * 1024 * 1024, 7));
  out.close();
  w.finish();
  const manifestPath = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  assert.equal(manifest.written.boot_id, fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
  assert.deepEqual(Object.keys(manifest.written.files), ['pages-1.img'], 'only large files are stamped');
  const check = (trustUnchanged: boolean): readonly string[] => {
    const p = new ImageReader(dir).verifyDeferred({ trustUnchanged });
    p.wait();
    return p.trusted;
  };
  assert.deepEqual(check(true), ['pages-1.img']);
  assert.deepEqual(check(false), [], 'without trustUnchanged (--verify-images) everything is hashed');

  // Another boot (or host): hashed.
  fs.writeFileSync(manifestPath, JSON.stringify({ ...manifest, written: { ...manifest.written, boot_id: 'another-boot' } }));
  assert.deepEqual(check(true), []);
  fs.writeFileSync(manifestPath, JSON.stringify(manifest));
  assert.deepEqual(check(true), ['pages-1.img']);

  // A copy keeps mtime (cp -p) but not the inode or ctime: hashed.
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'cryo-rawhash-copy-'));
  try {
    execFileSync('cp', ['-a', `${dir}/.`, copy]);
    const p = new ImageReader(copy).verifyDeferred({ trustUnchanged: true });
    p.wait();
    assert.deepEqual(p.trusted, []);
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }

  // Written in place (same inode, size): the ctime moves, so it is hashed and the flip is caught.
  const fd = fs.openSync(path.join(dir, 'pages-1.img'), 'r+');
  fs.writeSync(fd, Buffer.from([8]), 0, 1, 12345678);
  fs.closeSync(fd);
  assert.throws(() => check(true), /pages-1\.img: sha256 mismatch/);

  // What the stamps cannot see (a flip behind the filesystem's back, here faked by stamping the
  // damaged file) only --verify-images finds.
  const st = fs.statSync(path.join(dir, 'pages-1.img'), { bigint: true });
  const stamp = { dev: String(st.dev), ino: String(st.ino), mtime_ns: String(st.mtimeNs), ctime_ns: String(st.ctimeNs) };
  fs.writeFileSync(manifestPath, JSON.stringify({ ...manifest, written: { ...manifest.written, files: { 'pages-1.img': stamp } } }));
  assert.deepEqual(check(true), ['pages-1.img']);
  assert.throws(() => check(false), /pages-1\.img: sha256 mismatch/);
});
