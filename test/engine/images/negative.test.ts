// Failure paths: damaged images are refused with an ImageError naming the file (and the byte
// offset where it applies); bad objects are refused before anything is written.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { ImageError, InternalError } from '../../../errors.ts';
import { decodeImage, decodeImageFile, encodeImage, ImageReader, ImageWriter, writeRestoreStats } from '../../../engine/images/index.ts';
import { DUMP_STATS, PAGES, RESTORE_STATS } from './samples.ts';

let dir = '';
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cryo-images-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const PSTREE = [{ pid: 42, ppid: 0, pgid: 42, sid: 42, threads: [42] }];

function smallDump(): ImageReader {
  const w = new ImageWriter(dir);
  w.write('PSTREE', PSTREE);
  w.write('FS', [{ cwd_id: 1, root_id: 1 }], { id: 42 });
  const pages = w.openRaw('pages-1.img');
  pages.write(PAGES);
  pages.close();
  w.writeStats('dump', DUMP_STATS);
  w.finish();
  return new ImageReader(dir);
}

function pstreeBytes(): Buffer {
  return Buffer.concat(encodeImage('PSTREE', PSTREE, undefined, 'pstree.img'));
}

function imageError(pattern: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof ImageError, `expected ImageError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  };
}

test('a complete dump verifies and reads back', async () => {
  const r = smallDump();
  await r.verify();
  assert.deepEqual(r.read('PSTREE'), PSTREE);
  assert.deepEqual(r.read('STATS', 'dump'), [{ dump: DUMP_STATS }]);
  assert.deepEqual(r.list(), ['fs-42.img', 'manifest.json', 'pages-1.img', 'pstree.img', 'stats-dump']);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.format, 'cryo-images');
  assert.equal(manifest.version, 2);
  assert.deepEqual(Object.keys(manifest.files), ['fs-42.img', 'pages-1.img', 'pstree.img', 'stats-dump']);
  assert.equal(manifest.files['pages-1.img'].size, PAGES.length);
});

test('bad magic', async () => {
  const buf = pstreeBytes();
  buf.writeUInt32LE(0x12345678, 4);
  assert.throws(() => decodeImage(buf, 'pstree.img', 'PSTREE'), imageError(/^pstree\.img: bad magic 0x54564319 0x12345678, expected 0x54564319 0x50273030 \(PSTREE\)/));
  fs.writeFileSync(path.join(dir, 'pstree.img'), buf);
  assert.throws(() => new ImageReader(dir).read('PSTREE'), imageError(/^pstree\.img: bad magic/));
  assert.throws(() => decodeImageFile(path.join(dir, 'pstree.img')), imageError(/pstree\.img: unknown magic 0x12345678/));
});

test('an image of another kind is refused', async () => {
  assert.throws(() => decodeImage(pstreeBytes(), 'core-1.img', 'CORE'), imageError(/^core-1\.img: bad magic .*not a CORE image/));
});

test('truncated entry: size says more than the file has', async () => {
  const buf = pstreeBytes().subarray(0, -1);
  assert.throws(() => decodeImage(buf, 'pstree.img', 'PSTREE'), imageError(/^pstree\.img: entry at byte 8 needs 10 bytes, only 9 left \(truncated\?\)/));
});

test('truncated size field', async () => {
  const buf = Buffer.concat([pstreeBytes(), Buffer.from([1, 0])]);
  assert.throws(() => decodeImage(buf, 'pstree.img', 'PSTREE'), imageError(/^pstree\.img: truncated entry size at byte 22 \(2 of 4 bytes\)/));
});

test('truncated header and empty file', async () => {
  assert.throws(() => decodeImage(Buffer.alloc(0), 'pstree.img', 'PSTREE'), imageError(/^pstree\.img: truncated magic at byte 0/));
  assert.throws(() => decodeImage(pstreeBytes().subarray(0, 6), 'pstree.img', 'PSTREE'), imageError(/^pstree\.img: truncated image magic at byte 4/));
});

test('garbage inside an entry names the offset and the message', async () => {
  const buf = pstreeBytes();
  buf.fill(0xff, 12);
  assert.throws(() => decodeImage(buf, 'pstree.img', 'PSTREE'), imageError(/^pstree\.img: entry at byte 8: bad pstree_entry: /));
});

test('truncated payload', async () => {
  const buf = Buffer.concat(encodeImage('PIPES_DATA', [{ pipe_id: 1, bytes: 5 }], [Buffer.from('hello')], 'pipes-data.img')).subarray(0, -2);
  assert.throws(() => decodeImage(buf, 'pipes-data.img', 'PIPES_DATA'), imageError(/^pipes-data\.img: payload at byte 16 needs 5 bytes, only 3 left/));
});

test('flipped byte in pages-1.img: verify names it', async () => {
  const r = smallDump();
  const file = path.join(dir, 'pages-1.img');
  const buf = fs.readFileSync(file);
  buf[5000] ^= 1;
  fs.writeFileSync(file, buf);
  await assert.rejects(r.verify(), imageError(/^pages-1\.img: sha256 mismatch \(image corrupted\?\)$/));
});

test('truncated file: verify reports sizes', async () => {
  const r = smallDump();
  fs.truncateSync(path.join(dir, 'pages-1.img'), 4096);
  await assert.rejects(r.verify(), imageError(/^pages-1\.img: size 4096, manifest says 12288 \(truncated\?\)$/));
});

test('missing file', async () => {
  const r = smallDump();
  fs.rmSync(path.join(dir, 'fs-42.img'));
  await assert.rejects(r.verify(), imageError(/^fs-42\.img: missing \(listed in manifest\.json\)$/));
  assert.throws(() => r.read('FS', 42), imageError(/^fs-42\.img: missing$/));
  assert.equal(r.readOptional('FS', 42), undefined);
});

test('extra .img file not in the manifest', async () => {
  const r = smallDump();
  fs.writeFileSync(path.join(dir, 'core-7.img'), pstreeBytes());
  await assert.rejects(r.verify(), imageError(/^core-7\.img: not listed in manifest\.json/));
});

test('missing manifest: not a complete cryo dump', async () => {
  const r = smallDump();
  fs.rmSync(path.join(dir, 'manifest.json'));
  await assert.rejects(r.verify(), imageError(/not a complete cryo dump/));
});

test('a new dump into the same directory drops the old manifest until it finishes', async () => {
  smallDump().verify();
  const w = new ImageWriter(dir);
  w.write('PSTREE', PSTREE);
  await assert.rejects(new ImageReader(dir).verify(), imageError(/not a complete cryo dump/));
  w.finish();
});

test('stats-restore and logs written after the dump do not upset verify', async () => {
  const r = smallDump();
  writeRestoreStats(dir, RESTORE_STATS);
  fs.writeFileSync(path.join(dir, 'restore.log'), 'hello\n');
  await r.verify();
  assert.deepEqual(r.read('STATS', 'restore'), [{ restore: RESTORE_STATS }]);
});

test('kinds without a schema yet are recognised and refused clearly', async () => {
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const buf = Buffer.concat([u32(0x54564319), u32(0x57506142), u32(0)]);
  fs.writeFileSync(path.join(dir, 'bpfmap-file.img'), buf);
  assert.throws(() => decodeImageFile(path.join(dir, 'bpfmap-file.img')), imageError(/bpfmap-file\.img: BPFMAP_FILE entries \(bpfmap_file_entry\) are not described in schemas\/criu yet/));
});

test('bad objects are refused on encode', async () => {
  const enc = (kind: 'PSTREE' | 'MM' | 'PIPES_DATA' | 'FILES', entries: object[], payloads?: Buffer[]) => () =>
    encodeImage(kind, entries, payloads, 'x.img');
  const internal = (pattern: RegExp) => (e: unknown) => e instanceof InternalError && pattern.test(e.message);
  assert.throws(enc('PSTREE', [{ pid: 1, ppid: 0, pgid: 1 }]), internal(/required pstree_entry\.sid is missing/));
  assert.throws(enc('PSTREE', [{ pid: 1, ppid: 0, pgid: 1, sid: 1, tid: 3 }]), internal(/pstree_entry has no field tid/));
  assert.throws(enc('PSTREE', [{ pid: -1, ppid: 0, pgid: 1, sid: 1 }]), internal(/x\.img entry 0\.pid: expected uint32 number, got -1/));
  assert.throws(enc('PSTREE', [{ pid: 1, ppid: 0, pgid: 1, sid: 1, threads: [1n] }]), internal(/threads\[0\]: expected uint32 number, got 1n/));
  const mm = { mm_start_code: 0x1000, mm_end_code: 0n, mm_start_data: 0n, mm_end_data: 0n, mm_start_stack: 0n, mm_start_brk: 0n, mm_brk: 0n, mm_arg_start: 0n, mm_arg_end: 0n, mm_env_start: 0n, mm_env_end: 0n, exe_file_id: 1 };
  assert.throws(enc('MM', [mm]), internal(/mm_start_code: expected uint64 bigint, got 4096/));
  assert.throws(enc('MM', [{ ...mm, mm_start_code: 1n << 64n }]), internal(/expected uint64 bigint, got 18446744073709551616n/));
  assert.throws(enc('FILES', [{ type: 12345, id: 1 }]), internal(/type: expected a fd_types value, got 12345/));
  assert.throws(enc('PIPES_DATA', [{ pipe_id: 1, bytes: 5 }], [Buffer.from('hi')]), internal(/payload has 2 bytes, the entry says 5/));
  assert.throws(enc('PSTREE', PSTREE, [Buffer.from('hi')]), internal(/PSTREE entries carry no payload/));
});

test('writer misuse is an InternalError', async () => {
  const w = new ImageWriter(dir);
  w.write('PSTREE', PSTREE);
  assert.throws(() => w.write('PSTREE', PSTREE), InternalError);
  assert.throws(() => w.write('CORE', []), InternalError); // no id
  assert.throws(() => w.write('PAGES', [], { id: 1 }), InternalError); // raw: use openRaw
  const raw = w.openRaw('pages-1.img');
  assert.throws(() => w.finish(), /still open: pages-1\.img/);
  raw.close();
  w.finish();
  assert.throws(() => w.write('FS', [{ cwd_id: 1, root_id: 1 }], { id: 1 }), /after finish/);
});

test('deferred writes (--leave-running): nothing is written until writeDeferred(), then the same images; a name twice, or finish() before, is refused; abort() drops them', () => {
  const w = new ImageWriter(dir);
  w.deferWrites();
  w.write('PSTREE', PSTREE);
  w.write('FS', [{ cwd_id: 1, root_id: 1 }], { id: 42 });
  assert.equal(fs.existsSync(path.join(dir, 'pstree.img')), false, 'written while deferred');
  assert.throws(() => w.write('PSTREE', PSTREE), (e: unknown) => e instanceof InternalError && /pstree\.img: written twice/.test(e.message));
  assert.throws(() => w.finish(), (e: unknown) => e instanceof InternalError && /images not written: pstree\.img, fs-42\.img/.test(e.message));
  w.writeDeferred();
  assert.deepEqual(fs.readFileSync(path.join(dir, 'pstree.img')), pstreeBytes());
  w.write('INVENTORY', [{ img_version: 2 }]);
  assert.ok(fs.existsSync(path.join(dir, 'inventory.img')), 'written at once after writeDeferred()');
  w.finish();
  assert.deepEqual(new ImageReader(dir).read('FS', 42), [{ cwd_id: 1, root_id: 1 }]);

  const dir2 = fs.mkdtempSync(path.join(os.tmpdir(), 'cryo-images-'));
  try {
    const a = new ImageWriter(dir2);
    a.deferWrites();
    a.write('PSTREE', PSTREE);
    a.abort();
    a.writeDeferred();
    assert.equal(fs.existsSync(path.join(dir2, 'pstree.img')), false, 'written after abort()');
  } finally {
    fs.rmSync(dir2, { recursive: true, force: true });
  }
});
