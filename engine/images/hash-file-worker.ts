// SHA-256 of some pieces (piece-hash.ts) of a large image that exists already, on a worker
// thread while restore rebuilds the tasks (or after a --leave-running dump let them go):
// hashing.ts's FileHasher starts one worker per core, each for its own run of pieces.
// state: [0] native code loaded (1), [1] running (1) → digests ready (2), or cancel asked (3) by
// the main thread; a Float64 at byte 8: the file's size. Digest i goes to bytes 32*i of `digests`.
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
  readonly path: string;
  readonly state: SharedArrayBuffer;
  readonly digests: SharedArrayBuffer;
  readonly pieceBytes: number;
  readonly first: number;
  readonly count: number;
}

const data = workerData as Data;
const ctl = new Int32Array(data.state, 0, 2);
Atomics.store(ctl, 0, 1);
Atomics.notify(ctl, 0);
const size = new Float64Array(data.state, 8, 1)[0]!;
const from = data.first * data.pieceBytes;
const upto = Math.min(size, (data.first + data.count) * data.pieceBytes);
const hash = new PieceHash(data.pieceBytes);
const fd = fs.openSync(data.path, 'r');
// Hashed in place from a mapping (a fifth faster than reading it out of the page cache). A file
// cut short: the digests of what is there, which will not match.
const have = Math.max(0, Math.min(upto, fs.fstatSync(fd).size) - from);
let cancelled = false;
if (have > 0) {
  using map = mapFile(fd, have, from);
  for (let off = 0; off < have && !(cancelled = Atomics.load(ctl, 1) === 3); off += STEP) {
    hash.update(new Uint8Array(map.bytes, off, Math.min(STEP, have - off)));
  }
}
fs.closeSync(fd);
if (!cancelled) {
  const out = new Uint8Array(data.digests);
  hash.finish().slice(0, data.count).forEach((d, i) => out.set(d, (data.first + i) * 32));
  Atomics.compareExchange(ctl, 1, 1, 2);
  Atomics.notify(ctl, 1);
}
