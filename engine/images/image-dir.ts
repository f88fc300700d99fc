// An images directory: writing a dump (images, raw pages, stats-dump, then manifest.json last)
// and reading one back (verify() checks the manifest before anything is trusted).

import crypto from 'node:crypto';
import { Worker } from 'node:worker_threads';
import fs from 'node:fs';
import path from 'node:path';
import { ImageError, InternalError } from '../../errors.ts';
import { mapFileForWriting, type MappedFile } from '../../native/index.ts';
import type { Entry } from './codec.ts';
import { decodeImage, encodeImage } from './image-file.ts';
import type { DecodedImage } from './image-file.ts';
import { imageFileName } from './kinds.ts';
import type { ImageKindName } from './kinds.ts';

export const MANIFEST = 'manifest.json';

export interface ManifestFile {
  readonly size: number;
  readonly sha256: string;
}

export interface Manifest {
  readonly format: 'cryo-images';
  readonly version: 1;
  readonly files: Readonly<Record<string, ManifestFile>>;
  /**
   * Where and when the dump wrote its large files: this boot of this host, and each file's
   * inode, mtime and ctime just after it was written. A restore on the same boot that finds a
   * file with the very same inode and times knows it was neither copied nor written since, and
   * need not hash it again (see ImageReader.verifyDeferred). Anything else is hashed.
   */
  readonly written?: { readonly boot_id: string; readonly files: Readonly<Record<string, FileStamp>> };
}

/** dev, inode, mtime and ctime of a file (decimal strings: ns times exceed 2^53). */
export interface FileStamp {
  readonly dev: string;
  readonly ino: string;
  readonly mtime_ns: string;
  readonly ctime_ns: string;
}

function stampOf(st: fs.BigIntStats): FileStamp {
  return { dev: String(st.dev), ino: String(st.ino), mtime_ns: String(st.mtimeNs), ctime_ns: String(st.ctimeNs) };
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.mtime_ns === b.mtime_ns && a.ctime_ns === b.ctime_ns;
}

/** This boot of this host (the kernel draws a new one at every boot). */
function bootId(): string {
  return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** Names a raw image may not take: the manifest's, and stats-restore (written after the dump). */
function isReserved(name: string): boolean {
  return name === 'stats-restore' || name === MANIFEST || name.startsWith(`${MANIFEST}.`);
}

/** Writes every byte (at `at`, or at the file position); writeSync may write less than asked. */
function writeAll(fd: number, buf: Uint8Array, file: string, at?: number): void {
  for (let off = 0; off < buf.length; ) {
    const n = fs.writeSync(fd, buf, off, buf.length - off, at === undefined ? null : at + off);
    if (n <= 0) throw new ImageError(`${file}: short write at byte ${(at ?? 0) + off}`);
    off += n;
  }
}

export interface RawImageFile {
  readonly fd: number;
  readonly path: string;
  /**
   * A buffer of RAW_BUFFER_BYTES (or less, for a small file) to fill and hand to write(): the
   * hasher reads it in place. Valid until the next buffer() call.
   */
  buffer(): Buffer;
  /** Writes all of `buf` and hashes it; write only through this, or the manifest will not match. */
  write(buf: Uint8Array): void;
  close(): void;
}

/** Size of the buffers raw files hand out (pages are copied from the task in batches this big). */
export const RAW_BUFFER_BYTES = 4 * 1024 * 1024;
const RING_SLOTS = 4;
/** Queue of pieces to hash, in file order: each in a ring slot, or to be read back from the file. */
const QUEUE = 1024;
// Control words (Int32): pieces queued, pieces hashed, ring slots freed, closed (1) / digest
// ready (2); then the queue: each piece's length, negative for one to read back from the file.
const QUEUED = 0;
const HASHED = 1;
const FREED = 2;
const CLOSED = 3;
/** Value of CLOSED that tells the worker to stop without a digest. */
const CANCELLED = 3;
const LENS = 4;
const MAX_PIECE = 1 << 30;

/**
 * Hashing 512 MiB of pages costs about a third of a second, as long as copying them: a worker
 * thread hashes each buffer on the second core while the main thread writes it to the file.
 * The buffers are a ring in shared memory: the hash reads them in place (no copy, no read back
 * from the page cache); a buffer is refilled once the worker is done with it.
 *
 * With `copyAhead`, the writer never waits for the hash: when no slot is free it writes from a
 * buffer of its own, which the worker reads back from the file when it gets there (a
 * --leave-running dump lets the task go before the hash is done).
 *
 * Started idle (before the dump freezes anything: a worker takes ~35 ms to start); attach()
 * names the file.
 */
class RingHasher {
  readonly #ctl = new Int32Array(new SharedArrayBuffer(4 * (LENS + QUEUE)));
  readonly #path = new Uint8Array(new SharedArrayBuffer(4096));
  readonly #slots = new SharedArrayBuffer(RING_SLOTS * RAW_BUFFER_BYTES);
  readonly #digest = new SharedArrayBuffer(32);
  readonly #worker: Worker;
  #copyAhead = false;
  #queued = 0;
  #used = 0;
  #own: Buffer | undefined;

  constructor() {
    this.#worker = new Worker(new URL('./hash-worker.js', import.meta.url), {
      workerData: { path: this.#path.buffer, ctl: this.#ctl.buffer, slots: this.#slots, slotBytes: RAW_BUFFER_BYTES, digest: this.#digest },
    });
    this.#worker.unref();
  }

  attach(file: string, copyAhead: boolean): this {
    const name = Buffer.from(file);
    if (name.length >= this.#path.length) throw new InternalError(`${file}: path too long`);
    this.#path.set(name);
    this.#copyAhead = copyAhead;
    return this;
  }

  #slotFree(): boolean {
    return this.#used - Atomics.load(this.#ctl, FREED) < RING_SLOTS;
  }

  /** The next slot, once the worker has hashed what it held before (copying ahead: or a buffer of our own). */
  buffer(): Buffer {
    if (this.#copyAhead && !this.#slotFree()) return (this.#own ??= Buffer.allocUnsafe(RAW_BUFFER_BYTES));
    for (let freed; this.#used - (freed = Atomics.load(this.#ctl, FREED)) >= RING_SLOTS; ) Atomics.wait(this.#ctl, FREED, freed, 1000);
    return Buffer.from(this.#slots, (this.#used % RING_SLOTS) * RAW_BUFFER_BYTES, RAW_BUFFER_BYTES);
  }

  /** Before `buf` is written: a ring slot is handed over at once, anything else is copied into the ring. */
  advance(buf: Uint8Array): void {
    if (buf.buffer === this.#slots && buf.byteOffset === (this.#used % RING_SLOTS) * RAW_BUFFER_BYTES) {
      this.#used++;
      this.#queue(buf.length);
      return;
    }
    if (this.#copyAhead) return; // wrote() queues it to be read back
    for (let off = 0; off < buf.length; off += RAW_BUFFER_BYTES) {
      const piece = buf.subarray(off, off + RAW_BUFFER_BYTES);
      this.buffer().set(piece);
      this.#used++;
      this.#queue(piece.length);
    }
  }

  /** After `buf` is written: what was not handed over goes to the worker as a piece of the file. */
  wrote(buf: Uint8Array): void {
    if (!this.#copyAhead || buf.buffer === this.#slots) return;
    for (let off = 0; off < buf.length; off += MAX_PIECE) this.#queue(-Math.min(MAX_PIECE, buf.length - off));
  }

  #queue(len: number): void {
    for (let hashed; this.#queued - (hashed = Atomics.load(this.#ctl, HASHED)) >= QUEUE; ) Atomics.wait(this.#ctl, HASHED, hashed, 1000);
    Atomics.store(this.#ctl, LENS + (this.#queued % QUEUE), len);
    this.#queued++;
    Atomics.store(this.#ctl, QUEUED, this.#queued);
    Atomics.notify(this.#ctl, QUEUED);
  }

  /** Everything is written: the worker finishes on its own. */
  close(_size: number): void {
    Atomics.store(this.#ctl, CLOSED, 1);
    Atomics.notify(this.#ctl, QUEUED);
  }

  /** Stops an idle or unfinished worker: it sees the flag within 50 ms and ends (never terminated: see hash-worker.ts). */
  cancel(): void {
    Atomics.store(this.#ctl, CLOSED, CANCELLED);
    Atomics.notify(this.#ctl, QUEUED);
  }

  /** Waits (synchronously) for the digest of everything written; the worker then ends by itself. */
  finish(): string {
    while (Atomics.load(this.#ctl, CLOSED) !== 2) Atomics.wait(this.#ctl, CLOSED, 1, 1000);
    return Buffer.from(this.#digest).toString('hex');
  }
}

/** Hashes a file that exists already (restore), on a worker thread, while the caller goes on. */
class ParallelHasher {
  readonly #state = new SharedArrayBuffer(16);
  readonly #digest = new SharedArrayBuffer(32);
  readonly #ctl = new Int32Array(this.#state, 0, 2);
  readonly #written = new Float64Array(this.#state, 8, 1);
  readonly #worker: Worker;

  constructor(file: string, size: number) {
    this.#written[0] = size;
    Atomics.store(this.#ctl, 1, 1);
    this.#worker = new Worker(new URL('./hash-file-worker.js', import.meta.url), { workerData: { path: file, state: this.#state, digest: this.#digest } });
    this.#worker.unref();
  }

  /**
   * Stops the worker without a digest: it sees the flag at its next MiB and ends (never
   * terminated: see hash-file-worker.ts). Waits until it has loaded koffi, so that cryo may exit.
   */
  cancel(): void {
    Atomics.compareExchange(this.#ctl, 1, 1, 3);
    const deadline = performance.now() + 5000;
    while (Atomics.load(this.#ctl, 0) !== 1 && performance.now() < deadline) Atomics.wait(this.#ctl, 0, 0, 50);
  }

  /** Waits (synchronously) for the digest of the file's first `size` bytes; the worker then ends by itself. */
  finish(): string {
    while (Atomics.load(this.#ctl, 1) !== 2) Atomics.wait(this.#ctl, 1, 1, 1000);
    return Buffer.from(this.#digest).toString('hex');
  }
}

/** Raw images from this size on are hashed on a worker thread started for them (~35 ms to start)… */
const PARALLEL_HASH_BYTES = 128 * 1024 * 1024;
/** …or from this size on, by a worker started in advance. */
const PRESTARTED_HASH_BYTES = 16 * 1024 * 1024;
/** At restore, files from this size on are hashed in the background (a worker costs ~30 ms to start). */
const DEFERRED_HASH_BYTES = 16 * 1024 * 1024;

/** The hashes verifyDeferred() left running: wait() before anything restored may run. */
export interface PendingHashes {
  /** Waits for every hash; ImageError on the first mismatch. */
  wait(): void;
  /** Stops the hashing (the restore failed anyway). */
  cancel(): void;
}

class InlineHasher {
  readonly #hash = crypto.createHash('sha256');
  readonly #bytes: number;
  #buf: Buffer | undefined;

  constructor(expectedBytes: number) {
    this.#bytes = Math.min(RAW_BUFFER_BYTES, Math.max(4096, expectedBytes));
  }

  buffer(): Buffer {
    return (this.#buf ??= Buffer.allocUnsafe(this.#bytes));
  }

  advance(buf: Uint8Array): void {
    this.#hash.update(buf);
  }

  wrote(_buf: Uint8Array): void {}

  close(_size: number): void {}

  finish(): string {
    return this.#hash.digest('hex');
  }
}

class RawFile implements RawImageFile, Disposable {
  readonly fd: number;
  readonly path: string;
  readonly #name: string;
  readonly #hasher: RingHasher | InlineHasher;
  readonly #done: (name: string, size: number, digest: () => string) => void;
  #size = 0;
  #closed = false;

  constructor(dir: string, name: string, hasher: RingHasher | InlineHasher, done: (name: string, size: number, digest: () => string) => void) {
    this.path = path.join(dir, name);
    this.#name = name;
    this.#done = done;
    this.fd = fs.openSync(this.path, 'w', 0o600);
    this.#hasher = hasher;
  }

  buffer(): Buffer {
    return this.#hasher.buffer();
  }

  write(buf: Uint8Array): void {
    if (this.#closed) throw new InternalError(`${this.#name}: written after close`);
    // Handed to the hash first: the worker hashes the buffer while it is written.
    this.#hasher.advance(buf);
    writeAll(this.fd, buf, this.#name);
    this.#size += buf.length;
    this.#hasher.wrote(buf);
  }

  /** Closes the file; the digest may still be computed on the worker until the writer's finish(). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    fs.closeSync(this.fd);
    this.#hasher.close(this.#size);
    const hasher = this.#hasher;
    this.#done(this.#name, this.#size, () => hasher.finish());
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function writeImageFile(dir: string, name: string, bufs: readonly Uint8Array[]): ManifestFile {
  // One write: an image of a thousand entries is two thousand small buffers.
  const whole = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
  const fd = fs.openSync(path.join(dir, name), 'w', 0o600);
  try {
    writeAll(fd, whole, name);
  } finally {
    fs.closeSync(fd);
  }
  return { size: whole.length, sha256: crypto.createHash('sha256').update(whole).digest('hex') };
}

/** The file prepareRaw() makes, until it is adopted under its image's name. */
const PREPARED_NAME = 'pages-prepared.tmp';

/** See ImageWriter.prepareRaw(). */
export interface PreparedRawImage {
  /** Makes it the raw image `name` (once; false if it is taken already). */
  claim(name: string): boolean;
  /** Room for `n` more bytes in the mapping, in file order; undefined once it is full (for good). */
  take(n: number): Uint8Array | undefined;
  /** The next bytes, written past the mapping (it was too small). */
  append(buf: Uint8Array): void;
  /** Unmaps it, cuts it to the bytes filled, gives it its name and starts hashing it (on a worker). */
  adopt(): void;
  /** A failed dump: unmaps and removes it. */
  discard(): void;
}

/** One per dump. Images are written whole; pages stream through openRaw(); finish() seals it. */
export class ImageWriter {
  readonly dir: string;
  readonly #files = new Map<string, ManifestFile>();
  readonly #open = new Set<string>();
  /** Raw images closed whose digest a worker may still be computing. */
  readonly #hashing = new Map<string, { size: number; digest: () => string }>();
  readonly #copyAhead: boolean;
  #idleHasher: RingHasher | undefined;
  #finished = false;

  /**
   * `hashWorker`: a hash worker is started now, for the first large raw image (a dump creates
   * its writer before it freezes anything). `copyAhead`: large raw images are written without
   * waiting for their hash, which finish() then waits for (a --leave-running dump lets the
   * tasks go in between).
   */
  constructor(dir: string, opts: { hashWorker?: boolean; copyAhead?: boolean } = {}) {
    this.dir = dir;
    this.#copyAhead = opts.copyAhead ?? false;
    if (opts.hashWorker) this.#idleHasher = new RingHasher();
    fs.mkdirSync(dir, { recursive: true });
    // A stale manifest would vouch for a half-written new dump, and stale images of an earlier
    // dump into the same directory would be mixed into this one: a new dump replaces them.
    fs.rmSync(path.join(dir, MANIFEST), { force: true });
    for (const name of fs.readdirSync(dir)) {
      if (name.endsWith('.img') || name === 'stats-dump' || name === 'stats-restore' || name === PREPARED_NAME) fs.rmSync(path.join(dir, name), { force: true });
    }
  }

  #claim(name: string): void {
    if (this.#finished) throw new InternalError(`${name}: written after finish()`);
    if (this.#files.has(name) || this.#open.has(name) || this.#hashing.has(name)) throw new InternalError(`${name}: written twice`);
  }

  write(kind: ImageKindName, entries: readonly object[], opts: { id?: number | string; payloads?: readonly (Uint8Array | undefined)[] } = {}): void {
    const name = imageFileName(kind, opts.id);
    this.#claim(name);
    this.#files.set(name, writeImageFile(this.dir, name, encodeImage(kind, entries, opts.payloads, name)));
  }

  /** stats-dump is listed in the manifest; stats-restore never is (restore adds it later). */
  writeStats(which: 'dump' | 'restore', stats: object): void {
    if (which === 'restore') {
      writeRestoreStats(this.dir, stats);
      return;
    }
    this.write('STATS', [{ dump: stats }], { id: 'dump' });
  }

  /** A raw image written in pieces, e.g. 'pages-1.img'. */
  openRaw(fileName: string, opts: { expectedBytes?: number } = {}): RawImageFile & Disposable {
    if (fileName.includes('/') || isReserved(fileName)) throw new InternalError(`bad raw image name ${fileName}`);
    this.#claim(fileName);
    this.#open.add(fileName);
    const expected = opts.expectedBytes ?? 0;
    let hasher: RingHasher | InlineHasher;
    if (expected >= PARALLEL_HASH_BYTES || (this.#idleHasher && expected >= PRESTARTED_HASH_BYTES)) {
      hasher = (this.#idleHasher ?? new RingHasher()).attach(path.join(this.dir, fileName), this.#copyAhead);
      this.#idleHasher = undefined;
    } else hasher = new InlineHasher(expected);
    return new RawFile(this.dir, fileName, hasher, (name, size, digest) => {
      this.#open.delete(name);
      this.#hashing.set(name, { size, digest });
    });
  }

  /**
   * A raw image made ready before its bytes exist (a --leave-running dump, before it freezes the
   * tasks): a file of `bytes` zeros, mapped shared and faulted in, so that copying pages into it
   * while the tasks are frozen costs neither a write() nor a page fault — memory is the page cache
   * the image needs anyway. Undefined when the filesystem can't map it so (the caller then writes
   * as usual). Hashed from the file once adopted.
   */
  prepareRaw(bytes: number): PreparedRawImage | undefined {
    const file = path.join(this.dir, PREPARED_NAME);
    const fd = fs.openSync(file, 'w+', 0o600);
    let map: MappedFile;
    try {
      fs.ftruncateSync(fd, bytes);
      map = mapFileForWriting(fd, bytes);
    } catch {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      return undefined;
    }
    const view = new Uint8Array(map.bytes);
    let name: string | undefined;
    let mapped = 0;
    let appended = 0;
    let full = false;
    let over = false;
    const end = (): void => {
      if (over) return;
      over = true;
      map.unmap();
      fs.closeSync(fd);
    };
    return {
      claim: (n) => {
        if (name !== undefined || over) return false;
        this.#claim(n);
        this.#open.add(n);
        name = n;
        return true;
      },
      take: (n) => {
        if (full || mapped + n > bytes) {
          full = true;
          return undefined;
        }
        return view.subarray(mapped, (mapped += n));
      },
      append: (buf) => {
        full = true;
        writeAll(fd, buf, name ?? PREPARED_NAME, mapped + appended);
        appended += buf.length;
      },
      adopt: () => {
        if (over) return;
        end();
        if (name === undefined) {
          fs.rmSync(file, { force: true });
          return;
        }
        const size = mapped + appended;
        fs.truncateSync(file, size);
        fs.renameSync(file, path.join(this.dir, name));
        this.#open.delete(name);
        const hasher = new ParallelHasher(path.join(this.dir, name), size);
        this.#hashing.set(name, { size, digest: () => hasher.finish() });
      },
      discard: () => {
        end();
        fs.rmSync(file, { force: true });
        if (name !== undefined) this.#open.delete(name);
      },
    };
  }

  /** A failed dump: stops the hash workers; no manifest is written. */
  abort(): void {
    this.#finished = true;
    this.#idleHasher?.cancel();
    this.#idleHasher = undefined;
    this.#hashing.clear();
  }

  /** Waits for the raw images' hashes, then writes manifest.json, last, so only a complete dump has one. */
  finish(): void {
    if (this.#open.size > 0) throw new InternalError(`finish() with raw images still open: ${[...this.#open].join(', ')}`);
    if (this.#finished) return;
    this.#finished = true;
    this.#idleHasher?.cancel();
    this.#idleHasher = undefined;
    for (const [name, h] of this.#hashing) this.#files.set(name, { size: h.size, sha256: h.digest() });
    this.#hashing.clear();
    const files: Record<string, ManifestFile> = {};
    const stamps: Record<string, FileStamp> = {};
    for (const name of [...this.#files.keys()].sort()) {
      const f = (files[name] = this.#files.get(name)!);
      if (f.size >= DEFERRED_HASH_BYTES) stamps[name] = stampOf(fs.statSync(path.join(this.dir, name), { bigint: true }));
    }
    const manifest: Manifest = { format: 'cryo-images', version: 1, files, ...(Object.keys(stamps).length ? { written: { boot_id: bootId(), files: stamps } } : {}) };
    const tmp = path.join(this.dir, `${MANIFEST}.tmp`);
    fs.writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, path.join(this.dir, MANIFEST));
  }
}

/** Writes stats-restore into an existing images directory; the manifest is left alone. */
export function writeRestoreStats(dir: string, stats: object): void {
  const name = imageFileName('STATS', 'restore');
  writeImageFile(dir, name, encodeImage('STATS', [{ restore: stats }], undefined, name));
}

function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ImageError(`${dir}: not a complete cryo dump (no ${MANIFEST})`, {
        hint: 'the dump did not finish, or this directory was not written by cryo',
      });
    }
    throw new ImageError(`${MANIFEST}: ${(e as Error).message}`, { cause: e });
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new ImageError(`${MANIFEST}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const obj = m as Partial<Manifest> | null;
  if (obj === null || typeof obj !== 'object' || obj.format !== 'cryo-images' || typeof obj.files !== 'object' || obj.files === null) {
    throw new ImageError(`${MANIFEST}: not a cryo-images manifest`);
  }
  if (obj.version !== 1) throw new ImageError(`${MANIFEST}: version ${String(obj.version)} is not supported (this cryo reads 1)`);
  for (const [name, f] of Object.entries(obj.files)) {
    if (name.includes('/') || typeof f?.size !== 'number' || typeof f.sha256 !== 'string') {
      throw new ImageError(`${MANIFEST}: bad entry for ${name}`);
    }
  }
  return obj as Manifest;
}

function sha256File(file: string): string {
  const hash = crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = fs.openSync(file, 'r');
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

export class ImageReader {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Checks the dump against its manifest: every listed file present with its size and sha256,
   * and no unlisted .img file (stats-restore and logs are not images). Cheap checks first, hashes last.
   */
  verify(): void {
    this.#verify(Infinity).wait();
  }

  /**
   * verify(), except that the files of DEFERRED_HASH_BYTES or more (the pages) are hashed on
   * worker threads while the caller goes on: restore starts rebuilding the tasks meanwhile and
   * calls wait() before any of them may run. Sizes, the listing and small files (every image that
   * is decoded) are checked before this returns.
   *
   * `trustUnchanged`: a large file that the manifest says this boot of this host wrote, with the
   * same device, inode, mtime and ctime now, was not copied, moved in or written since the dump
   * hashed it, and is not hashed again (its size is still checked). Copies, transfers and edits
   * all get a new inode or ctime, and are hashed.
   */
  verifyDeferred(opts: { trustUnchanged?: boolean } = {}): PendingHashes & { readonly trusted: readonly string[] } {
    return this.#verify(DEFERRED_HASH_BYTES, opts.trustUnchanged ?? false);
  }

  #verify(deferBytes: number, trustUnchanged = false): PendingHashes & { readonly trusted: readonly string[] } {
    const manifest = readManifest(this.dir);
    const listed = Object.entries(manifest.files);
    const w = manifest.written;
    const stamps = trustUnchanged && typeof w?.files === 'object' && w.files !== null && w.boot_id === bootId() ? w.files : {};
    const trusted: string[] = [];
    for (const [name, want] of listed) {
      let st: fs.BigIntStats;
      try {
        st = fs.statSync(this.path(name), { bigint: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ImageError(`${name}: missing (listed in ${MANIFEST})`);
        throw new ImageError(`${name}: ${(e as Error).message}`, { cause: e });
      }
      if (!st.isFile()) throw new ImageError(`${name}: not a regular file`);
      if (st.size !== BigInt(want.size)) {
        throw new ImageError(`${name}: size ${st.size}, manifest says ${want.size} (${st.size < BigInt(want.size) ? 'truncated?' : 'image corrupted?'})`);
      }
      const stamp = Object.hasOwn(stamps, name) ? stamps[name] : undefined;
      if (want.size >= deferBytes && stamp && sameStamp(stamp, stampOf(st))) trusted.push(name);
    }
    for (const name of this.list()) {
      if (name.endsWith('.img') && !Object.hasOwn(manifest.files, name)) {
        throw new ImageError(`${name}: not listed in ${MANIFEST} (extra file in the dump)`);
      }
    }
    const mismatch = (name: string): ImageError => new ImageError(`${name}: sha256 mismatch (image corrupted?)`);
    const pending: { name: string; want: ManifestFile; hasher: ParallelHasher }[] = [];
    try {
      for (const [name, want] of listed) {
        if (trusted.includes(name)) continue;
        if (want.size >= deferBytes) {
          const hasher = new ParallelHasher(this.path(name), want.size);
          pending.push({ name, want, hasher });
        } else if (sha256File(this.path(name)) !== want.sha256) throw mismatch(name);
      }
    } catch (e) {
      for (const p of pending) p.hasher.cancel();
      throw e;
    }
    return {
      trusted,
      wait: () => {
        for (const [i, p] of pending.entries()) {
          if (p.hasher.finish() === p.want.sha256) continue;
          for (const q of pending.slice(i + 1)) q.hasher.cancel();
          throw mismatch(p.name);
        }
        pending.length = 0;
      },
      cancel: () => {
        for (const p of pending) p.hasher.cancel();
        pending.length = 0;
      },
    };
  }

  path(fileName: string): string {
    return path.join(this.dir, fileName);
  }

  /** Names of the files in the directory, sorted. */
  list(): string[] {
    return fs.readdirSync(this.dir).sort();
  }

  #decode(kind: ImageKindName, id: number | string | undefined, optional: boolean): DecodedImage | undefined {
    const name = imageFileName(kind, id);
    let buf: Buffer;
    try {
      buf = fs.readFileSync(this.path(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        if (optional) return undefined;
        throw new ImageError(`${name}: missing`);
      }
      throw new ImageError(`${name}: ${(e as Error).message}`, { cause: e });
    }
    return decodeImage(buf, name, kind);
  }

  /** Entries of an image; ImageError if it is missing, truncated or of another kind. */
  read<T extends object = Entry>(kind: ImageKindName, id?: number | string): T[] {
    return this.#decode(kind, id, false)!.entries as T[];
  }

  /** Like read(), but undefined when the file does not exist (CRIU's "empty image"). */
  readOptional<T extends object = Entry>(kind: ImageKindName, id?: number | string): T[] | undefined {
    return this.#decode(kind, id, true)?.entries as T[] | undefined;
  }

  /** Entries with the raw bytes that follow them (pipes-data, ghost-file, …). */
  readWithPayloads<T extends object = Entry>(kind: ImageKindName, id?: number | string): { entry: T; payload?: Buffer }[] {
    const img = this.#decode(kind, id, false)!;
    return img.entries.map((entry, i) => {
      const payload = img.payloads?.[i];
      return payload === undefined ? { entry: entry as T } : { entry: entry as T, payload };
    });
  }
}

/** Decodes any CRIU image file, the kind taken from its magic. */
export function decodeImageFile(file: string): DecodedImage {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new ImageError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (e as Error).message}`, { cause: e });
  }
  return decodeImage(buf, file);
}
