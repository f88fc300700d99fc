// Hashes a file on a second core while the main thread is still writing it: the main thread
// publishes how many bytes are written (and when it is done) in shared memory; this worker reads
// them back from the page cache and hashes them, then hands the digest back the same way.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

// Started before the dump freezes anything; told which file to hash once it exists.
const { state, digest } = workerData as { state: SharedArrayBuffer; digest: SharedArrayBuffer };
const path = await new Promise<string>((resolve) => parentPort!.once('message', (m: { path: string }) => resolve(m.path)));
// state: [0] bytes written (low 32 bits of the size in MiB units is not enough: use a Float64 view)
const ctl = new Int32Array(state, 0, 2); // [0] generation counter, [1] closed flag
const written = new Float64Array(state, 8, 1);
const out = new Uint8Array(digest);

const hash = crypto.createHash('sha256');
const fd = fs.openSync(path, 'r');
const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
let done = 0;
for (;;) {
  const gen = Atomics.load(ctl, 0);
  const closed = Atomics.load(ctl, 1) === 1;
  const upto = written[0]!;
  let short = false;
  while (done < upto) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, upto - done), done);
    if (n <= 0) {
      short = true;
      break;
    }
    hash.update(buf.subarray(0, n));
    done += n;
  }
  // A file cut short after it was closed (restore hashes files that exist already): the digest of
  // what is there, which will not match.
  if (closed && (done >= upto || short)) break;
  Atomics.wait(ctl, 0, gen, 50);
}
fs.closeSync(fd);
out.set(hash.digest());
Atomics.store(ctl, 1, 2);
Atomics.notify(ctl, 1);
