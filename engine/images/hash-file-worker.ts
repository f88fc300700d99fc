// SHA-256 of some pieces (piece-hash.ts) of a large image, on a worker thread: hashing.ts's
// FileHasher starts one worker per core, worker w taking pieces w, w+n, w+2n… of the file — one
// that exists already (restore, a --leave-running dump's pages after release), or one another
// process is writing in order (a dump's pages, written by the task itself), whose pieces are
// hashed as they are completed.
// A worker may be started before its file exists (a dump starts them before it freezes the
// tasks: a worker takes ~35 ms of CPU to start); it waits until it is told the file.
// state (Int32): [0] native code loaded (1), [1] running (1) → digests ready (2), or cancel
// asked (3) by the main thread, [2] pieces complete (the writer raises it), [3] file told (1);
// a Float64 at byte 16: the file's size; `path`: its name, NUL-terminated. Digest i goes to
// bytes 32*i of `digests`.
//
// Not terminated from outside (see hash-worker.ts): a cancelled worker stops at the next MiB.
// koffi is a static import, so the flag below is set once it is loaded: the process must not
// exit while a worker is still registering koffi (that aborts it), and cancel() waits for it.
import fs from 'node:fs';
import { workerData } from 'node:worker_threads';
import { mapFile } from '../../native/filemap.ts';
import { PieceHash } from './piece-hash.ts';

const STEP = 1 << 20;

interface Data {
  readonly path: SharedArrayBuffer;
  readonly state: SharedArrayBuffer;
  readonly digests: SharedArrayBuffer;
  readonly pieceBytes: number;
  readonly first: number;
  readonly stride: number;
}

const data = workerData as Data;
const ctl = new Int32Array(data.state, 0, 4);
Atomics.store(ctl, 0, 1);
Atomics.notify(ctl, 0);
const out = new Uint8Array(data.digests);
const cancelled = (): boolean => Atomics.load(ctl, 1) === 3;
let stopped = false;
while (Atomics.load(ctl, 3) !== 1 && !(stopped = cancelled())) Atomics.wait(ctl, 3, 0, 50);
const size = new Float64Array(data.state, 16, 1)[0]!;
const count = Math.max(1, Math.ceil(size / data.pieceBytes));
const name = new Uint8Array(data.path);
const fd = stopped ? -1 : fs.openSync(Buffer.from(name.subarray(0, name.indexOf(0))).toString(), 'r');
for (let p = data.first; p < count && !stopped; p += data.stride) {
  for (let ready; (ready = Atomics.load(ctl, 2)) <= p && !(stopped = cancelled()); ) Atomics.wait(ctl, 2, ready, 50);
  if (stopped) break;
  const from = p * data.pieceBytes;
  // Hashed in place from a mapping (a fifth faster than reading it out of the page cache). A file
  // cut short: the digest of what is there, which will not match.
  const have = Math.max(0, Math.min(from + data.pieceBytes, size, fs.fstatSync(fd).size) - from);
  const hash = new PieceHash(data.pieceBytes);
  if (have > 0) {
    using map = mapFile(fd, have, from);
    for (let off = 0; off < have && !(stopped = cancelled()); off += STEP) hash.update(new Uint8Array(map.bytes, off, Math.min(STEP, have - off)));
  }
  out.set(hash.finish()[0]!, p * 32);
}
if (fd >= 0) fs.closeSync(fd);
if (!stopped) {
  Atomics.compareExchange(ctl, 1, 1, 2);
  Atomics.notify(ctl, 1);
}
