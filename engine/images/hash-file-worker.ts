// SHA-256 of a large image that exists already, on a worker thread while restore rebuilds the
// tasks (image-dir.ts, ParallelHasher). state: [0] native code loaded (1), [1] running (1) →
// digest ready (2), or cancel asked (3) by the main thread; a Float64 at byte 8: the size.
//
// Not terminated from outside (see hash-worker.ts): a cancelled worker stops at the next piece.
// koffi is a static import, so the flag below is set once it is loaded: the process must not
// exit while a worker is still registering koffi (that aborts it), and cancel() waits for it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { workerData } from 'node:worker_threads';
import { mapFile } from '../../native/filemap.ts';

const PIECE = 1 << 20;

interface Data {
  readonly path: string;
  readonly state: SharedArrayBuffer;
  readonly digest: SharedArrayBuffer;
}

const data = workerData as Data;
const ctl = new Int32Array(data.state, 0, 2);
Atomics.store(ctl, 0, 1);
Atomics.notify(ctl, 0);
const hash = crypto.createHash('sha256');
const size = new Float64Array(data.state, 8, 1)[0]!;
const fd = fs.openSync(data.path, 'r');
// Hashed in place from a mapping (a fifth faster than reading it out of the page cache). A file
// cut short: the digest of what is there, which will not match.
const have = Math.min(size, fs.fstatSync(fd).size);
let cancelled = false;
if (have > 0) {
  using map = mapFile(fd, have);
  for (let off = 0; off < have && !(cancelled = Atomics.load(ctl, 1) === 3); off += PIECE) {
    hash.update(new Uint8Array(map.bytes, off, Math.min(PIECE, have - off)));
  }
}
fs.closeSync(fd);
if (!cancelled) {
  new Uint8Array(data.digest).set(hash.digest());
  Atomics.compareExchange(ctl, 1, 1, 2);
  Atomics.notify(ctl, 1);
}
