// An images directory: writing a dump (images, raw pages, stats-dump, then manifest.json last)
// and reading one back (verify() checks the manifest before anything is trusted).

import fs from 'node:fs';
import path from 'node:path';
import { ImageError, InternalError } from '../../errors.ts';
import { mapFileForWriting, type MappedFile } from '../../native/index.ts';
import type { Entry } from './codec.ts';
import { FileHasher, InlineHasher, PoolHasher, RingHasher, poolHashing } from './hashing.ts';
import { hashFilePieces, PIECE_BYTES, PieceHash, pieceCount } from './piece-hash.ts';
import { decodeImage, encodeImage } from './image-file.ts';
import type { DecodedImage } from './image-file.ts';
import { imageFileName } from './kinds.ts';
import type { ImageKindName } from './kinds.ts';

export const MANIFEST = 'manifest.json';

/** A file as the manifest lists it: its size and SHA-256, of each piece for a large one (piece-hash.ts). */
export interface ManifestFile {
  readonly size: number;
  /** A file of one piece: SHA-256 of the whole file. */
  readonly sha256?: string;
  /** A file of more than one: SHA-256 of each piece of `piece_bytes` bytes, in order (the last may be shorter). */
  readonly piece_bytes?: number;
  readonly sha256_pieces?: readonly string[];
}

/** What the manifest lists for a file of `size` bytes whose pieces hash to `digests`. */
function listing(size: number, digests: readonly string[]): ManifestFile {
  return digests.length === 1 ? { size, sha256: digests[0]! } : { size, piece_bytes: PIECE_BYTES, sha256_pieces: digests };
}

/** The digests the manifest expects for a file, and the size of the pieces they are of. */
function wantedDigests(f: ManifestFile): { pieceBytes: number; digests: readonly string[] } {
  return f.sha256_pieces ? { pieceBytes: f.piece_bytes!, digests: f.sha256_pieces } : { pieceBytes: Math.max(f.size, 1), digests: [f.sha256!] };
}

export interface Manifest {
  readonly format: 'cryo-images';
  /** 2 lists large files by pieces; 1 (read still) has one sha256 per file. */
  readonly version: 1 | 2;
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

/** Raw images from this size on are hashed on a worker thread started for them (~35 ms to start)… */
const PARALLEL_HASH_BYTES = 128 * 1024 * 1024;
/** …or from this size on, by a worker started in advance. */
const PRESTARTED_HASH_BYTES = 16 * 1024 * 1024;
/** At restore, files from this size on are hashed in the background (a worker costs ~30 ms to start). */
const DEFERRED_HASH_BYTES = 16 * 1024 * 1024;

/** The hashes verifyDeferred() left running: wait() before anything restored may run. */
export interface PendingHashes {
  /** Resolves once every hash is checked; rejects with ImageError on the first mismatch. */
  wait(): Promise<void>;
  /** Stops the hashing (the restore failed anyway). */
  cancel(): void;
}

/**
 * A large file's pieces hashed in the background: on the thread pool where the system has
 * OpenSSL (PoolHasher), else on worker threads (FileHasher). `follow`: still being written.
 */
function hashInBackground(file: string, size: number, pieceBytes = PIECE_BYTES, opts: { follow?: boolean; prestarted?: FileHasher; workers?: boolean } = {}): PoolHasher | FileHasher {
  if (!opts.workers && poolHashing()) return new PoolHasher(file, size, pieceBytes, { follow: opts.follow });
  return opts.prestarted?.attach(file, size, { follow: opts.follow }) ?? FileHasher.start(file, size, pieceBytes, { follow: opts.follow });
}

class RawFile implements RawImageFile, Disposable {
  readonly fd: number;
  readonly path: string;
  readonly #name: string;
  readonly #hasher: RingHasher | InlineHasher;
  readonly #done: (name: string, size: number, digests: () => string[]) => void;
  #size = 0;
  #closed = false;

  constructor(dir: string, name: string, hasher: RingHasher | InlineHasher, done: (name: string, size: number, digests: () => string[]) => void) {
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
  const hash = new PieceHash();
  hash.update(whole);
  return listing(whole.length, hash.finish().map((d) => d.toString('hex')));
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

/** See ImageWriter.openRawShared(). */
export interface SharedRawImage {
  /** cryo's fd of the file, open for writing: a copy goes to the process that writes it. */
  readonly fd: number;
  /** Bytes cryo writes itself, at `offset`. */
  writeAt(buf: Uint8Array, offset: number): void;
  /** The first `bytes` of the file are written: their pieces are hashed meanwhile. */
  written(bytes: number): void;
  /** Every byte is written; the digests are waited for by finish(). */
  close(): void;
  /** Nothing was written after all: removes it, so the name can be opened again. */
  discard(): void;
}

/** One per dump. Images are written whole; pages stream through openRaw(); finish() seals it. */
export class ImageWriter {
  readonly dir: string;
  readonly #files = new Map<string, ManifestFile>();
  readonly #open = new Set<string>();
  /** Raw images closed whose digest a worker may still be computing. */
  readonly #hashing = new Map<string, { size: number; digests: () => string[] }>();
  readonly #copyAhead: boolean;
  #idleHasher: RingHasher | undefined;
  #idlePieces: FileHasher | undefined;
  /** Background hashers of raw images (hashInBackground): settle() waits for those on the pool, abort() stops them all. */
  readonly #background = new Set<FileHasher | PoolHasher>();
  #finished = false;
  /** Images handed to write() since deferWrites(), not yet encoded. */
  #deferred: Map<string, { kind: ImageKindName; entries: readonly object[]; payloads: readonly (Uint8Array | undefined)[] | undefined }> | undefined;

  /**
   * `hashWorker`: hash workers are started now (a dump creates its writer before it freezes
   * anything), for the first large raw image: 'ring' for one cryo writes (openRaw), 'pieces' for
   * one another process writes (openRawShared); `rawBytes`, the expected size of the largest raw
   * image: no 'ring' worker is started for one too small to use it. `copyAhead`: large raw images
   * are written without waiting for their hash, which finish() then waits for (a
   * --leave-running dump lets the tasks go in between).
   */
  constructor(dir: string, opts: { hashWorker?: 'ring' | 'pieces'; rawBytes?: number; copyAhead?: boolean } = {}) {
    this.dir = dir;
    this.#copyAhead = opts.copyAhead ?? false;
    if (opts.hashWorker === 'ring' && (opts.rawBytes ?? Infinity) >= PRESTARTED_HASH_BYTES) this.#idleHasher = new RingHasher();
    // Nothing to start when the thread pool can hash (PoolHasher).
    if (opts.hashWorker === 'pieces' && !poolHashing()) this.#idlePieces = FileHasher.prestart();
    fs.mkdirSync(dir, { recursive: true });
    // A stale manifest would vouch for a half-written new dump, and stale images of an earlier
    // dump into the same directory would be mixed into this one: a new dump replaces them.
    fs.rmSync(path.join(dir, MANIFEST), { force: true });
    for (const name of fs.readdirSync(dir)) {
      if (name.endsWith('.img') || name === 'stats-dump' || name === 'stats-restore' || name === PREPARED_NAME) fs.rmSync(path.join(dir, name), { force: true });
    }
  }

  /** A raw image's name, checked and claimed, and marked open. */
  #openRawName(fileName: string): void {
    if (fileName.includes('/') || isReserved(fileName)) throw new InternalError(`bad raw image name ${fileName}`);
    this.#claim(fileName);
    this.#open.add(fileName);
  }

  #claim(name: string): void {
    if (this.#finished) throw new InternalError(`${name}: written after finish()`);
    if (this.#files.has(name) || this.#open.has(name) || this.#hashing.has(name) || this.#deferred?.has(name)) throw new InternalError(`${name}: written twice`);
  }

  write(kind: ImageKindName, entries: readonly object[], opts: { id?: number | string; payloads?: readonly (Uint8Array | undefined)[] } = {}): void {
    const name = imageFileName(kind, opts.id);
    this.#claim(name);
    if (this.#deferred) this.#deferred.set(name, { kind, entries, payloads: opts.payloads });
    else this.#files.set(name, writeImageFile(this.dir, name, encodeImage(kind, entries, opts.payloads, name)));
  }

  /**
   * From now until writeDeferred(), write() keeps the entries it is given (they must not change
   * meanwhile) instead of encoding and writing them: a --leave-running dump encodes its images
   * once the tasks run again (10,000 VMAs' mm image: ~60 ms of encoding while frozen otherwise).
   */
  deferWrites(): void {
    this.#deferred ??= new Map();
  }

  /** Encodes and writes what write() kept since deferWrites(); write() writes at once again. */
  writeDeferred(): void {
    const deferred = this.#deferred;
    this.#deferred = undefined;
    for (const [name, d] of deferred ?? []) this.#files.set(name, writeImageFile(this.dir, name, encodeImage(d.kind, d.entries, d.payloads, name)));
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
    this.#openRawName(fileName);
    const expected = opts.expectedBytes ?? 0;
    let hasher: RingHasher | InlineHasher;
    if (expected >= PARALLEL_HASH_BYTES || (this.#idleHasher && expected >= PRESTARTED_HASH_BYTES)) {
      hasher = (this.#idleHasher ?? new RingHasher()).attach(path.join(this.dir, fileName), this.#copyAhead);
      this.#idleHasher = undefined;
    } else hasher = new InlineHasher(expected);
    return new RawFile(this.dir, fileName, hasher, (name, size, digests) => {
      this.#open.delete(name);
      this.#hashing.set(name, { size, digests });
    });
  }

  /**
   * A raw image of exactly `bytes` bytes that another process writes, in file order, through a
   * copy of `fd` — a dump's pages, written by the task itself (one copy, instead of
   * process_vm_readv and write()). Each piece is hashed in the background once it is written
   * (hashInBackground), so the hash is done soon after the last byte.
   */
  openRawShared(fileName: string, bytes: number): SharedRawImage {
    this.#openRawName(fileName);
    const file = path.join(this.dir, fileName);
    const fd = fs.openSync(file, 'w', 0o600);
    const hasher = hashInBackground(file, bytes, PIECE_BYTES, { follow: true, prestarted: this.#idlePieces });
    this.#idlePieces = undefined;
    this.#background.add(hasher);
    let over = false;
    const end = (): void => {
      over = true;
      fs.closeSync(fd);
      this.#open.delete(fileName);
    };
    return {
      fd,
      writeAt: (buf, offset) => writeAll(fd, buf, fileName, offset),
      written: (n) => hasher.written(n),
      close: () => {
        if (over) return;
        const size = fs.fstatSync(fd).size;
        end();
        if (size !== bytes) throw new InternalError(`${fileName}: ${size} bytes written, ${bytes} expected`);
        this.#hashing.set(fileName, { size, digests: () => hasher.finish() });
      },
      discard: () => {
        if (over) return;
        end();
        hasher.cancel();
        this.#background.delete(hasher);
        fs.rmSync(file, { force: true });
      },
    };
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
        const hasher = hashInBackground(path.join(this.dir, name), size);
        this.#background.add(hasher);
        this.#hashing.set(name, { size, digests: () => hasher.finish() });
      },
      discard: () => {
        end();
        fs.rmSync(file, { force: true });
        if (name !== undefined) this.#open.delete(name);
      },
    };
  }

  /** Waits for the digests hashed on the thread pool (PoolHasher): before finish(). */
  async settle(): Promise<void> {
    await Promise.all([...this.#background].map((h) => (h instanceof PoolHasher ? h.settled() : undefined)));
  }

  /** A failed dump: stops the hash workers; no manifest is written. */
  abort(): void {
    this.#finished = true;
    this.#deferred = undefined;
    this.#idleHasher?.cancel();
    this.#idleHasher = undefined;
    this.#idlePieces?.cancel();
    this.#idlePieces = undefined;
    for (const h of this.#background) h.cancel();
    this.#background.clear();
    this.#hashing.clear();
  }

  /** Waits for the raw images' hashes, then writes manifest.json, last, so only a complete dump has one. */
  finish(): void {
    if (this.#open.size > 0) throw new InternalError(`finish() with raw images still open: ${[...this.#open].join(', ')}`);
    if (this.#deferred?.size) throw new InternalError(`finish() with images not written: ${[...this.#deferred.keys()].join(', ')}`);
    if (this.#finished) return;
    this.#finished = true;
    this.#idleHasher?.cancel();
    this.#idleHasher = undefined;
    this.#idlePieces?.cancel();
    this.#idlePieces = undefined;
    for (const [name, h] of this.#hashing) this.#files.set(name, listing(h.size, h.digests()));
    this.#hashing.clear();
    this.#background.clear();
    const files: Record<string, ManifestFile> = {};
    const stamps: Record<string, FileStamp> = {};
    for (const name of [...this.#files.keys()].sort()) {
      const f = (files[name] = this.#files.get(name)!);
      if (f.size >= DEFERRED_HASH_BYTES) stamps[name] = stampOf(fs.statSync(path.join(this.dir, name), { bigint: true }));
    }
    saveManifest(this.dir, { format: 'cryo-images', version: 2, files, ...(Object.keys(stamps).length ? { written: { boot_id: bootId(), files: stamps } } : {}) });
  }
}

/** Writes manifest.json under a temporary name first, so a reader never sees half of one. */
function saveManifest(dir: string, manifest: Manifest): void {
  const tmp = path.join(dir, `${MANIFEST}.tmp`);
  fs.writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, path.join(dir, MANIFEST));
}

/**
 * Lists every regular file of `dir` as it is now in a new manifest (for directories that no dump
 * wrote: tools, tests); a dump's ImageWriter writes its own.
 */
export function writeManifestFor(dir: string): Manifest {
  const files: Record<string, ManifestFile> = {};
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!e.isFile() || isReserved(e.name)) continue;
    const file = path.join(dir, e.name);
    files[e.name] = listing(fs.statSync(file).size, hashFilePieces(file));
  }
  const manifest: Manifest = { format: 'cryo-images', version: 2, files };
  saveManifest(dir, manifest);
  return manifest;
}

/** Writes stats-restore into an existing images directory; the manifest is left alone. */
export function writeRestoreStats(dir: string, stats: object): void {
  const name = imageFileName('STATS', 'restore');
  writeImageFile(dir, name, encodeImage('STATS', [{ restore: stats }], undefined, name));
}

/** The manifest of an images directory (ImageError if it has none or it is malformed). */
export function readManifest(dir: string): Manifest {
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
  if (obj.version !== 1 && obj.version !== 2) throw new ImageError(`${MANIFEST}: version ${String(obj.version)} is not supported (this cryo reads 1 and 2)`);
  for (const [name, f] of Object.entries(obj.files)) {
    if (name.includes('/') || !isListing(f)) throw new ImageError(`${MANIFEST}: bad entry for ${name}`);
  }
  return obj as Manifest;
}

/** A size and either one sha256 or a whole list of pieces (pages-sized, one digest per piece). */
function isListing(f: unknown): f is ManifestFile {
  const e = f as ManifestFile | null;
  if (typeof e !== 'object' || e === null || !Number.isSafeInteger(e.size) || e.size < 0) return false;
  if (e.sha256_pieces === undefined) return typeof e.sha256 === 'string';
  const p = e.piece_bytes;
  return (
    typeof p === 'number' && Number.isSafeInteger(p) && p > 0 && p % 4096 === 0 && Array.isArray(e.sha256_pieces) &&
    e.sha256_pieces.length === pieceCount(e.size, p) && e.sha256_pieces.every((d) => typeof d === 'string')
  );
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
  async verify(): Promise<void> {
    await this.#verify({ pool: true }).wait();
  }

  /**
   * verify(), except that the files of DEFERRED_HASH_BYTES or more (the pages) are hashed in the
   * background (hashInBackground) while the caller goes on: restore starts rebuilding the tasks meanwhile and
   * calls wait() before any of them may run. Sizes, the listing and small files (every image that
   * is decoded) are checked before this returns.
   *
   * `trustUnchanged`: a large file that the manifest says this boot of this host wrote, with the
   * same device, inode, mtime and ctime now, was not copied, moved in or written since the dump
   * hashed it, and is not hashed again (its size is still checked). Copies, transfers and edits
   * all get a new inode or ctime, and are hashed.
   *
   * The hashing runs on worker threads, not libuv's pool: restore uses the pool to fill pages
   * meanwhile, and its jobs would queue behind the hashes.
   */
  verifyDeferred(opts: { trustUnchanged?: boolean } = {}): PendingHashes & { readonly trusted: readonly string[] } {
    return this.#verify(opts);
  }

  #verify(opts: { trustUnchanged?: boolean; pool?: boolean }): PendingHashes & { readonly trusted: readonly string[] } {
    const manifest = readManifest(this.dir);
    const files = Object.entries(manifest.files);
    const w = manifest.written;
    const stamps = opts.trustUnchanged && typeof w?.files === 'object' && w.files !== null && w.boot_id === bootId() ? w.files : {};
    const trusted: string[] = [];
    for (const [name, want] of files) {
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
      if (want.size >= DEFERRED_HASH_BYTES && stamp && sameStamp(stamp, stampOf(st))) trusted.push(name);
    }
    for (const name of this.list()) {
      if (name.endsWith('.img') && !Object.hasOwn(manifest.files, name)) {
        throw new ImageError(`${name}: not listed in ${MANIFEST} (extra file in the dump)`);
      }
    }
    const mismatch = (name: string): ImageError => new ImageError(`${name}: sha256 mismatch (image corrupted?)`);
    const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
    const pending: { name: string; want: readonly string[]; hasher: FileHasher | PoolHasher }[] = [];
    try {
      for (const [name, f] of files) {
        if (trusted.includes(name)) continue;
        const want = wantedDigests(f);
        if (f.size >= DEFERRED_HASH_BYTES) {
          const hasher = hashInBackground(this.path(name), f.size, want.pieceBytes, { workers: !opts.pool });
          pending.push({ name, want: want.digests, hasher });
        } else if (!same(hashFilePieces(this.path(name), want.pieceBytes), want.digests)) throw mismatch(name);
      }
    } catch (e) {
      for (const p of pending) p.hasher.cancel();
      throw e;
    }
    return {
      trusted,
      wait: async () => {
        for (const [i, p] of pending.entries()) {
          if (p.hasher instanceof PoolHasher) await p.hasher.settled();
          if (same(p.hasher.finish(), p.want)) continue;
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

/**
 * Checks an images directory against its manifest, hashing every file (large ones on one worker
 * per core): ImageError naming the first missing, extra, truncated or corrupted file.
 */
export async function verifyImages(dir: string): Promise<void> {
  await new ImageReader(dir).verify();
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
