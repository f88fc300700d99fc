// Hashing the images as the manifest lists them (piece-hash.ts), off the main thread where it
// pays: RingHasher while a dump writes a large raw image, FileHasher for files that exist
// already, InlineHasher for small raw images.
import fs from 'node:fs';
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { ImageError, InternalError } from '../../errors.ts';
import { mapFile, sha256InBackground, sha256InBackgroundAvailable } from '../../native/index.ts';
import { workerThreads } from '../lazy-builtins.ts';
import { PIECE_BYTES, PieceHash, pieceCount } from './piece-hash.ts';

/** Most pieces a raw image written by a dump may have (1 TiB): room in RingHasher's shared memory. */
const MAX_PIECES = 131072;
/** Workers hashing one file (each needs a core to be worth its start-up). */
const MAX_FILE_WORKERS = 4;

/** Size of the buffers raw files hand out (pages are copied from the task in batches this big). */
export const RAW_BUFFER_BYTES = 4 * 1024 * 1024;
const RING_SLOTS = 4;
/** Queue of parts to hash, in file order: each in a ring slot, or to be read back from the file. */
const QUEUE = 1024;
// Control words (Int32): parts queued, parts hashed, ring slots freed, closed (1) / digests
// ready (2); then the queue: each part's length, negative for one to read back from the file.
const QUEUED = 0;
const HASHED = 1;
const FREED = 2;
const CLOSED = 3;
/** Value of CLOSED that tells the worker to stop without a digest. */
const CANCELLED = 3;
const LENS = 4;
const MAX_PART = 1 << 30;

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
export class RingHasher {
  readonly #ctl = new Int32Array(new SharedArrayBuffer(4 * (LENS + QUEUE)));
  readonly #path = new Uint8Array(new SharedArrayBuffer(4096));
  readonly #slots = new SharedArrayBuffer(RING_SLOTS * RAW_BUFFER_BYTES);
  /** Count (Int32), then the pieces' digests from byte 32 (see hash-worker.ts). */
  readonly #digest = new SharedArrayBuffer(32 + MAX_PIECES * 32);
  readonly #worker: Worker;
  #copyAhead = false;
  #queued = 0;
  #used = 0;
  #own: Buffer | undefined;

  constructor() {
    this.#worker = new (workerThreads().Worker)(new URL('./hash-worker.js', import.meta.url), {
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
      const part = buf.subarray(off, off + RAW_BUFFER_BYTES);
      this.buffer().set(part);
      this.#used++;
      this.#queue(part.length);
    }
  }

  /** After `buf` is written: what was not handed over goes to the worker as a part of the file. */
  wrote(buf: Uint8Array): void {
    if (!this.#copyAhead || buf.buffer === this.#slots) return;
    for (let off = 0; off < buf.length; off += MAX_PART) this.#queue(-Math.min(MAX_PART, buf.length - off));
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

  /** Waits (synchronously) for the digests of everything written; the worker then ends by itself. */
  finish(): string[] {
    while (Atomics.load(this.#ctl, CLOSED) !== 2) Atomics.wait(this.#ctl, CLOSED, 1, 1000);
    const n = new Int32Array(this.#digest, 0, 1)[0]!;
    if (n === 0) throw new ImageError(`raw image of more than ${MAX_PIECES} pieces of ${PIECE_BYTES} bytes: too large to list in the manifest`);
    return digestsOf(this.#digest, 32, n);
  }
}

/** `n` raw digests from byte `at` of `buf`, as hex. */
function digestsOf(buf: SharedArrayBuffer, at: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => Buffer.from(buf, at + i * 32, 32).toString('hex'));
}

/** One worker of a FileHasher: every stride-th piece from `first` (hash-file-worker.ts). */
class PieceWorker {
  readonly #state = new SharedArrayBuffer(24);
  readonly #ctl = new Int32Array(this.#state, 0, 4);

  constructor(path: SharedArrayBuffer, digests: SharedArrayBuffer, pieceBytes: number, first: number, stride: number) {
    Atomics.store(this.#ctl, 1, 1);
    const worker = new (workerThreads().Worker)(new URL('./hash-file-worker.js', import.meta.url), { workerData: { path, state: this.#state, digests, pieceBytes, first, stride } });
    worker.unref();
  }

  /** Names the file (in the shared path buffer already): `size` bytes, `ready` pieces complete. */
  attach(size: number, ready: number): void {
    new Float64Array(this.#state, 16, 1)[0] = size;
    Atomics.store(this.#ctl, 2, ready);
    Atomics.store(this.#ctl, 3, 1);
    Atomics.notify(this.#ctl, 3);
  }

  /** Pieces before `n` are complete in the file. */
  ready(n: number): void {
    if (n <= Atomics.load(this.#ctl, 2)) return;
    Atomics.store(this.#ctl, 2, n);
    Atomics.notify(this.#ctl, 2);
  }

  /** Asks it to stop; waits until it has loaded koffi, so that cryo may exit (see hash-file-worker.ts). */
  cancel(deadline: number): void {
    Atomics.compareExchange(this.#ctl, 1, 1, 3);
    while (Atomics.load(this.#ctl, 0) !== 1 && performance.now() < deadline) Atomics.wait(this.#ctl, 0, 0, 50);
  }

  wait(): void {
    while (Atomics.load(this.#ctl, 1) !== 2) Atomics.wait(this.#ctl, 1, 1, 1000);
  }
}

/**
 * Hashes a file on worker threads while the caller goes on: one per core (at most the pieces),
 * worker w taking pieces w, w+n, w+2n… The file exists already (restore, a dump's prepared pages
 * image), or, with `follow`, is being written in order by someone else (a dump's pages, written
 * by the task), who says with written() how far it got; the workers hash each piece once it is
 * complete, so that the hash is done soon after the last byte. `pieceBytes` is the manifest's
 * (the whole size, for a file listed with one sha256). prestart() starts the workers before the
 * file is known (a dump, before it freezes anything); attach() names it.
 */
export class FileHasher {
  readonly #path = new Uint8Array(new SharedArrayBuffer(4096));
  readonly #digests: SharedArrayBuffer;
  readonly #workers: PieceWorker[] = [];
  readonly #pieceBytes: number;
  #count = 0;
  #size = 0;

  static prestart(): FileHasher {
    return new FileHasher(MAX_PIECES, PIECE_BYTES, Math.max(1, os.availableParallelism()));
  }

  static start(file: string, size: number, pieceBytes = PIECE_BYTES, opts: { follow?: boolean } = {}): FileHasher {
    const count = pieceCount(size, pieceBytes);
    return new FileHasher(count, pieceBytes, count).attach(file, size, opts);
  }

  private constructor(maxPieces: number, pieceBytes: number, maxWorkers: number) {
    this.#pieceBytes = pieceBytes;
    this.#digests = new SharedArrayBuffer(maxPieces * 32);
    const n = Math.min(maxWorkers, Math.max(1, os.availableParallelism()), MAX_FILE_WORKERS);
    for (let w = 0; w < n; w++) this.#workers.push(new PieceWorker(this.#path.buffer as SharedArrayBuffer, this.#digests, pieceBytes, w, n));
  }

  /** Names the file to hash: `size` bytes, complete already or (`follow`) still being written. */
  attach(file: string, size: number, opts: { follow?: boolean } = {}): this {
    const name = Buffer.from(file);
    if (name.length >= this.#path.length) throw new InternalError(`${file}: path too long`);
    this.#count = pieceCount(size, this.#pieceBytes);
    if (this.#count * 32 > this.#digests.byteLength) throw new ImageError(`${file}: more than ${MAX_PIECES} pieces of ${this.#pieceBytes} bytes: too large to list in the manifest`);
    this.#size = size;
    this.#path.set(name);
    for (const w of this.#workers) w.attach(size, opts.follow ? 0 : this.#count);
    return this;
  }

  /** Following a writer: the first `bytes` of the file are written. */
  written(bytes: number): void {
    const n = bytes >= this.#size ? this.#count : Math.floor(bytes / this.#pieceBytes);
    for (const w of this.#workers) w.ready(n);
  }

  /** Stops the workers without digests: each sees the flag at its next MiB and ends. */
  cancel(): void {
    const deadline = performance.now() + 5000;
    for (const w of this.#workers) w.cancel(deadline);
  }

  /** Waits (synchronously) for the digests of every piece; the workers then end by themselves. */
  finish(): string[] {
    this.written(this.#size);
    for (const w of this.#workers) w.wait();
    return digestsOf(this.#digests, 0, this.#count);
  }
}

/**
 * Whether large images are hashed on the thread pool (PoolHasher), with nothing to start: the
 * system has libcrypto. CRYO_POOL_HASH=0 (tests) makes cryo use the worker threads instead.
 */
export function poolHashing(): boolean {
  return process.env.CRYO_POOL_HASH !== '0' && sha256InBackgroundAvailable();
}

/**
 * Hashes a file's pieces on libuv's thread pool (the system's OpenSSL, through koffi), each in
 * place from a read-only mapping: as soon as it is written (`follow`: a dump's pages, written by
 * the task) or all at once. Every core hashes and there is no worker thread to start (~35 ms of
 * CPU each), but the digests come back through the event loop: settled() must be awaited before
 * finish(). Only where poolHashing() (else: FileHasher).
 */
export class PoolHasher {
  readonly #file: string;
  readonly #fd: number;
  readonly #size: number;
  readonly #pieceBytes: number;
  readonly #count: number;
  readonly #digests: (Buffer | undefined)[];
  readonly #jobs: Promise<void>[] = [];
  #next = 0;
  #error: unknown;
  #closing = false;

  constructor(file: string, size: number, pieceBytes = PIECE_BYTES, opts: { follow?: boolean } = {}) {
    this.#file = file;
    this.#fd = fs.openSync(file, 'r');
    this.#size = size;
    this.#pieceBytes = pieceBytes;
    this.#count = pieceCount(size, pieceBytes);
    if (this.#count > MAX_PIECES) throw new ImageError(`${file}: more than ${MAX_PIECES} pieces of ${pieceBytes} bytes: too large to list in the manifest`);
    this.#digests = new Array<Buffer | undefined>(this.#count);
    if (!opts.follow) this.written(size);
  }

  /** The first `bytes` of the file are written: their complete pieces go to the pool. */
  written(bytes: number): void {
    const upto = bytes >= this.#size ? this.#count : Math.floor(bytes / this.#pieceBytes);
    for (; this.#next < upto; this.#next++) this.#submit(this.#next);
  }

  #submit(p: number): void {
    const from = p * this.#pieceBytes;
    const len = Math.min(this.#pieceBytes, this.#size - from);
    if (len <= 0) {
      this.#digests[p] = new PieceHash().finish()[0]!; // an empty file: one empty piece
      return;
    }
    const map = mapFile(this.#fd, len, from);
    this.#jobs.push(
      sha256InBackground(map.address, len).then(
        (d) => void (this.#digests[p] = d),
        (e: unknown) => void (this.#error ??= e),
      ).finally(() => map.unmap()),
    );
  }

  /** Every piece submitted and hashed (the mappings are gone once it resolves). */
  async settled(): Promise<void> {
    this.written(this.#size);
    await Promise.all(this.#jobs);
    this.#close();
  }

  /** No more pieces; those on the pool finish on their own (a pool job can't be stopped). */
  cancel(): void {
    this.#next = this.#count;
    void Promise.all(this.#jobs).then(() => this.#close());
  }

  #close(): void {
    if (this.#closing) return;
    this.#closing = true;
    fs.closeSync(this.#fd);
  }

  /** The digests, once settled(). */
  finish(): string[] {
    if (this.#error) throw new InternalError(`${this.#file}: hashing failed: ${(this.#error as Error).message}`);
    if (this.#digests.some((d) => d === undefined)) throw new InternalError(`${this.#file}: digests asked for before they were settled`);
    return this.#digests.map((d) => d!.toString('hex'));
  }
}

/** Hashes a small raw image on the thread that writes it. */
export class InlineHasher {
  readonly #hash = new PieceHash();
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

  finish(): string[] {
    return this.#hash.finish().map((d) => d.toString('hex'));
  }
}

