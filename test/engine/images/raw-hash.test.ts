// Raw images (pages) are hashed while they are written: small ones inline, large ones on a
// worker thread from a ring of shared buffers. Either way the manifest holds the SHA-256 of
// exactly the bytes in the file (of each 8 MiB piece of it, for a larger one), whatever buffers
// they were written from.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { PoolHasher } from '../../../engine/images/hashing.ts';
import { ImageReader, ImageWriter, PIECE_BYTES } from '../../../engine/images/index.ts';
import { expectedListing } from '../../helpers/manifest.ts';

let dir = '';
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cryo-rawhash-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const MIB = 1024 * 1024;

function manifestEntry(name: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).files[name];
}

/** What the manifest must say of a file, computed here with crypto alone. */
function fileListing(name: string): unknown {
  return expectedListing(fs.readFileSync(path.join(dir, name)));
}

const CASES = [
  ['inline', 0, false],
  ['worker ring', 256 * 1024 * 1024, false],
  // The worker starts after the first buffers are written: the ring fills, the rest is read back.
  ['worker ring, writer going ahead', 256 * 1024 * 1024, true],
] as const;

for (const [label, expectedBytes, copyAhead] of CASES) {
  test(`raw image hashed (${label}): own buffers, partly filled, and foreign buffers of any size`, async () => {
    const w = new ImageWriter(dir, { copyAhead });
    const out = w.openRaw('pages-1.img', { expectedBytes });
    let seed = 1;
    // More buffers than the ring has slots, so slots are reused.
    for (let i = 0; i < 11; i++) {
      const b = out.buffer();
      const n = i % 3 === 0 ? b.length : Math.min(b.length, 4096 * (i + 1));
      for (let off = 0; off < n; off += 4096) b.fill(seed++ & 0xff, off, off + 4096);
      out.write(b.subarray(0, n));
      if (i % 4 === 1) out.write(Buffer.alloc(25 * 1024 * 1024 + 4096, seed++)); // larger than a slot, across pieces
      if (i % 4 === 2) out.write(Buffer.from('not a whole page'));
    }
    out.close();
    w.finish();
    const size = fs.statSync(path.join(dir, 'pages-1.img')).size;
    assert.ok(size > 2 * PIECE_BYTES, `${size} bytes: more than two pieces`);
    assert.deepEqual(manifestEntry('pages-1.img'), fileListing('pages-1.img'));
    await new ImageReader(dir).verify();
  });
}

test('a raw image of exactly two pieces lists two; one of a piece and a byte, two; one of a piece, a plain sha256', async () => {
  for (const size of [2 * PIECE_BYTES, PIECE_BYTES + 1, PIECE_BYTES]) {
    const w = new ImageWriter(dir, { hashWorker: 'ring' });
    const out = w.openRaw('pages-1.img', { expectedBytes: size });
    for (let off = 0; off < size; off += 3 * MIB) out.write(Buffer.alloc(Math.min(3 * MIB, size - off), off / MIB));
    out.close();
    w.finish();
    const want = fileListing('pages-1.img') as { sha256_pieces?: string[] };
    assert.equal(want.sha256_pieces?.length ?? 1, size > PIECE_BYTES ? 2 : 1);
    assert.deepEqual(manifestEntry('pages-1.img'), want);
    await new ImageReader(dir).verifyDeferred().wait();
  }
});

test('a byte flipped in any piece is caught; a manifest of version 1 (one sha256 for a large file) is still read', async () => {
  const w = new ImageWriter(dir);
  const out = w.openRaw('pages-1.img', { expectedBytes: 256 * MIB });
  for (let i = 0; i < 100; i++) out.write(Buffer.alloc(MIB, i)); // several pieces, hashed by one worker per core at restore
  out.close();
  w.finish();
  const file = path.join(dir, 'pages-1.img');
  const flip = (at: number): void => {
    const fd = fs.openSync(file, 'r+');
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0]! ^= 1;
    fs.writeSync(fd, b, 0, 1, at);
    fs.closeSync(fd);
  };
  for (const at of [5, 40 * MIB + 3, 100 * MIB - 1]) {
    flip(at);
    await assert.rejects(new ImageReader(dir).verifyDeferred().wait(), /pages-1\.img: sha256 mismatch/, `byte ${at}`);
    flip(at);
  }
  await new ImageReader(dir).verifyDeferred().wait();
  const manifestPath = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  assert.equal(manifest.version, 2);
  const whole = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  fs.writeFileSync(manifestPath, JSON.stringify({ ...manifest, version: 1, files: { ...manifest.files, 'pages-1.img': { size: 100 * MIB, sha256: whole } } }));
  await new ImageReader(dir).verifyDeferred().wait();
  flip(77 * MIB);
  await assert.rejects(new ImageReader(dir).verifyDeferred().wait(), /pages-1\.img: sha256 mismatch/);
  const cut = manifest.files['pages-1.img'].sha256_pieces.slice(1);
  fs.writeFileSync(manifestPath, JSON.stringify({ ...manifest, files: { ...manifest.files, 'pages-1.img': { ...manifest.files['pages-1.img'], sha256_pieces: cut } } }));
  assert.throws(() => new ImageReader(dir).verifyDeferred(), /manifest\.json: bad entry for pages-1\.img/);
});

test('a large raw image is verified in the background at restore, and a flipped byte is caught', async () => {
  const w = new ImageWriter(dir);
  const out = w.openRaw('pages-1.img', { expectedBytes: 256 * 1024 * 1024 });
  out.write(Buffer.alloc(20 * 1024 * 1024, 7)); // ≥ 16 MiB: hashed by a worker at restore
  out.close();
  w.finish();
  await new ImageReader(dir).verifyDeferred().wait();
  const fd = fs.openSync(path.join(dir, 'pages-1.img'), 'r+');
  fs.writeSync(fd, Buffer.from([8]), 0, 1, 12345678);
  fs.closeSync(fd);
  await assert.rejects(new ImageReader(dir).verifyDeferred().wait(), /pages-1\.img: sha256 mismatch/);
});

test('pages this boot wrote and nobody touched since are trusted at restore; copies, edits, another boot are hashed', async () => {
  const w = new ImageWriter(dir);
  const out = w.openRaw('pages-1.img', { expectedBytes: 256 * 1024 * 1024 });
  out.write(Buffer.alloc(20 * 1024 * 1024, 7));
  out.close();
  w.finish();
  const manifestPath = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  assert.equal(manifest.written.boot_id, fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
  assert.deepEqual(Object.keys(manifest.written.files), ['pages-1.img'], 'only large files are stamped');
  const check = async (trustUnchanged: boolean): Promise<readonly string[]> => {
    const p = new ImageReader(dir).verifyDeferred({ trustUnchanged });
    await p.wait();
    return p.trusted;
  };
  assert.deepEqual(await check(true), ['pages-1.img']);
  assert.deepEqual(await check(false), [], 'without trustUnchanged (--verify-images) everything is hashed');

  // Another boot (or host): hashed.
  fs.writeFileSync(manifestPath, JSON.stringify({ ...manifest, written: { ...manifest.written, boot_id: 'another-boot' } }));
  assert.deepEqual(await check(true), []);
  fs.writeFileSync(manifestPath, JSON.stringify(manifest));
  assert.deepEqual(await check(true), ['pages-1.img']);

  // A copy keeps mtime (cp -p) but not the inode or ctime: hashed.
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'cryo-rawhash-copy-'));
  try {
    execFileSync('cp', ['-a', `${dir}/.`, copy]);
    const p = new ImageReader(copy).verifyDeferred({ trustUnchanged: true });
    await p.wait();
    assert.deepEqual(p.trusted, []);
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }

  // Written in place (same inode, size): the ctime moves, so it is hashed and the flip is caught.
  const fd = fs.openSync(path.join(dir, 'pages-1.img'), 'r+');
  fs.writeSync(fd, Buffer.from([8]), 0, 1, 12345678);
  fs.closeSync(fd);
  await assert.rejects(check(true), /pages-1\.img: sha256 mismatch/);

  // What the stamps cannot see (a flip behind the filesystem's back, here faked by stamping the
  // damaged file) only --verify-images finds.
  const st = fs.statSync(path.join(dir, 'pages-1.img'), { bigint: true });
  const stamp = { dev: String(st.dev), ino: String(st.ino), mtime_ns: String(st.mtimeNs), ctime_ns: String(st.ctimeNs) };
  fs.writeFileSync(manifestPath, JSON.stringify({ ...manifest, written: { ...manifest.written, files: { 'pages-1.img': stamp } } }));
  assert.deepEqual(await check(true), ['pages-1.img']);
  await assert.rejects(check(false), /pages-1\.img: sha256 mismatch/);
});

// A raw image another process writes (the task, at dump): the hash workers follow the writer
// piece by piece; started before the file exists (prestarted) or when it is opened.
for (const how of ['thread pool', 'workers started in advance', 'workers'] as const) {
  test(`a raw image written by someone else is hashed piece by piece as it is written (${how})`, async (t) => {
    // CRYO_POOL_HASH=0: no OpenSSL on the thread pool, as on a system without libcrypto.so.3.
    if (how !== 'thread pool') {
      process.env.CRYO_POOL_HASH = '0';
      t.after(() => delete process.env.CRYO_POOL_HASH);
    }
    const w = new ImageWriter(dir, how === 'workers started in advance' ? { hashWorker: 'pieces' } : {});
    const size = 3 * 32 * MIB + 5 * 4096;
    const img = w.openRawShared('pages-1.img', size);
    const other = fs.openSync(path.join(dir, 'pages-1.img'), 'r+');
    let off = 0;
    for (let seed = 1; off < size; seed++) {
      const n = Math.min(size - off, (seed % 2 ? 7 : 13) * MIB);
      const chunk = Buffer.alloc(n, seed);
      // Some parts are written by cryo itself, the rest through another descriptor.
      if (seed % 3 === 0) img.writeAt(chunk, off);
      else fs.writeSync(other, chunk, 0, n, off);
      off += n;
      img.written(off);
    }
    fs.closeSync(other);
    img.close();
    await w.settle();
    w.finish();
    assert.deepEqual(manifestEntry('pages-1.img'), fileListing('pages-1.img'));
  });
}

test('an image of hundreds of pieces is hashed on the pool, all of them submitted at once (more than koffi queues by default)', async () => {
  const file = path.join(dir, 'pages-1.img');
  const piece = 64 * 1024;
  const bytes = Buffer.alloc(300 * piece + 123);
  for (let i = 0; i < bytes.length; i += 4096) bytes.fill((i / 4096) & 0xff, i, Math.min(i + 4096, bytes.length));
  fs.writeFileSync(file, bytes);
  const hasher = new PoolHasher(file, bytes.length, piece);
  await hasher.settled();
  const sha = (b: Uint8Array): string => crypto.createHash('sha256').update(b).digest('hex');
  const want = Array.from({ length: 301 }, (_, p) => sha(bytes.subarray(p * piece, (p + 1) * piece)));
  assert.deepEqual(hasher.finish(), want);
});

test('a raw image written by someone else: too short is an error; discarded, it is gone and its name free', async () => {
  const w = new ImageWriter(dir, { hashWorker: 'pieces' });
  const img = w.openRawShared('pages-1.img', 40 * MIB);
  img.writeAt(Buffer.alloc(MIB, 1), 0);
  img.written(MIB);
  assert.throws(() => img.close(), /1048576 bytes written, 41943040 expected/);
  const again = w.openRawShared('pages-2.img', 8192);
  again.discard();
  assert.equal(fs.existsSync(path.join(dir, 'pages-2.img')), false);
  const third = w.openRawShared('pages-2.img', 8192);
  third.writeAt(Buffer.alloc(8192, 7), 0);
  third.close();
  w.abort();
});
