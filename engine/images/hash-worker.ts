// SHA-256 on a second core while a dump writes a large raw image (image-dir.ts): the main thread
// hands over each buffer it writes through a ring of slots in shared memory; this worker hashes
// them in place and says which slot it is done with. A part the writer wrote from a buffer of
// its own (copyAhead, when the ring was full) is read back from the file. The digests of the
// file's pieces (piece-hash.ts) go back through shared memory — an Int32 count, then 32 bytes
// each from byte 32 — and a control word set to 2. (hash-file-worker.ts hashes files that exist
// already, at restore.)
//
// No top-level await here, and the main thread never terminates this worker: it sets the
// control word to 3 and the loop ends by itself. Node 20 aborts the whole process (V8 "Check
// failed: location_ != nullptr" in ExecuteAsyncModule) when a worker whose module has a top-level
// await is terminated during its evaluation — which, for a loop at top level, is all its life.
import fs from 'node:fs';
import { workerData } from 'node:worker_threads';
import { PieceHash } from './piece-hash.ts';

interface Data {
  readonly path: SharedArrayBuffer;
  readonly ctl: SharedArrayBuffer;
  readonly slots: SharedArrayBuffer;
  readonly slotBytes: number;
  readonly digest: SharedArrayBuffer;
}

const data = workerData as Data;
const hash = new PieceHash();
const out = new Uint8Array(data.digest);

/** Hashes [from, upto) of the file; returns where it got to (short: the file is shorter). */
function hashFile(fd: number, buf: Buffer, from: number, upto: number): number {
  let done = from;
  for (let n; done < upto && (n = fs.readSync(fd, buf, 0, Math.min(buf.length, upto - done), done)) > 0; done += n) hash.update(buf.subarray(0, n));
  return done;
}

{
  // ctl: [0] parts queued, [1] parts hashed, [2] ring slots freed, [3] closed (1) / digest
  // ready (2) / cancelled (3), [4..] the queue: part lengths, negative for a part to read back
  // from the file.
  const ctl = new Int32Array(data.ctl);
  const queue = ctl.length - 4;
  const nSlots = data.slots.byteLength / data.slotBytes;
  let hashed = 0;
  let slot = 0;
  let offset = 0;
  let fd = -1;
  let buf: Buffer | undefined;
  let cancelled = false;
  for (;;) {
    // Closed is read before the count: the main thread queues everything before it closes.
    const state = Atomics.load(ctl, 3);
    if ((cancelled = state === 3)) break;
    const closed = state === 1;
    const queued = Atomics.load(ctl, 0);
    for (; hashed < queued && !(cancelled = Atomics.load(ctl, 3) === 3); hashed++) {
      const len = Atomics.load(ctl, 4 + (hashed % queue));
      if (len > 0) {
        hash.update(new Uint8Array(data.slots, (slot % nSlots) * data.slotBytes, len));
        Atomics.store(ctl, 2, ++slot);
        Atomics.notify(ctl, 2);
        offset += len;
      } else {
        if (fd < 0) {
          const p = new Uint8Array(data.path);
          fd = fs.openSync(Buffer.from(p.subarray(0, p.indexOf(0))).toString(), 'r');
        }
        buf ??= Buffer.allocUnsafe(data.slotBytes);
        // Cut short: the digest of what is there, which will not match.
        const got = hashFile(fd, buf, offset, offset - len);
        offset = got < offset - len ? Infinity : got;
      }
      Atomics.store(ctl, 1, hashed + 1);
      Atomics.notify(ctl, 1);
    }
    if (closed || cancelled) break;
    Atomics.wait(ctl, 0, queued, 50);
  }
  if (fd >= 0) fs.closeSync(fd);
  if (!cancelled) {
    const digests = hash.finish();
    // More pieces than room (a raw image of terabytes): no count, and the writer says so.
    if (32 + digests.length * 32 <= out.length) {
      digests.forEach((d, i) => out.set(d, 32 + i * 32));
      new Int32Array(data.digest, 0, 1)[0] = digests.length;
    }
    Atomics.store(ctl, 3, 2);
    Atomics.notify(ctl, 3);
  }
}
