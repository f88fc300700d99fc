// SHA-256 on a second core, two ways (image-dir.ts):
// - ring: while a dump writes a large raw image, the main thread hands over each buffer it
//   writes through a ring of slots in shared memory; this worker hashes them in place and says
//   which slot it is done with. A piece the writer wrote from a buffer of its own (copyAhead,
//   when the ring was full) is read back from the file;
// - file: at restore, a large image that exists already is read and hashed here while the main
//   thread rebuilds the tasks.
// Either way the digest goes back through shared memory and a control word set to 2.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { workerData } from 'node:worker_threads';

const PIECE = 1 << 20;

type Data =
  | { mode: 'ring'; path: SharedArrayBuffer; ctl: SharedArrayBuffer; slots: SharedArrayBuffer; slotBytes: number; digest: SharedArrayBuffer }
  | { mode: 'file'; path: string; state: SharedArrayBuffer; digest: SharedArrayBuffer };

const data = workerData as Data;
const hash = crypto.createHash('sha256');
const out = new Uint8Array(data.digest);

/** Hashes [from, upto) of the file; returns where it got to (short: the file is shorter). */
function hashFile(fd: number, buf: Buffer, from: number, upto: number): number {
  let done = from;
  for (let n; done < upto && (n = fs.readSync(fd, buf, 0, Math.min(buf.length, upto - done), done)) > 0; done += n) hash.update(buf.subarray(0, n));
  return done;
}

if (data.mode === 'ring') {
  // ctl: [0] pieces queued, [1] pieces hashed, [2] ring slots freed, [3] closed (1) / digest
  // ready (2), [4..] the queue: piece lengths, negative for a piece to read back from the file.
  const ctl = new Int32Array(data.ctl);
  const queue = ctl.length - 4;
  const nSlots = data.slots.byteLength / data.slotBytes;
  let hashed = 0;
  let slot = 0;
  let offset = 0;
  let fd = -1;
  let buf: Buffer | undefined;
  for (;;) {
    // Closed is read before the count: the main thread queues everything before it closes.
    const closed = Atomics.load(ctl, 3) === 1;
    const queued = Atomics.load(ctl, 0);
    for (; hashed < queued; hashed++) {
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
    if (closed) break;
    Atomics.wait(ctl, 0, queued, 50);
  }
  if (fd >= 0) fs.closeSync(fd);
  out.set(hash.digest());
  Atomics.store(ctl, 3, 2);
  Atomics.notify(ctl, 3);
} else {
  // state: [0] native code loaded (1), [1] done flag (1 → 2 when the digest is ready); a
  // Float64 at byte 8: the size.
  const ctl = new Int32Array(data.state, 0, 2);
  // Only this mode loads koffi (the dump's ring workers never do). A worker terminated while
  // koffi registers itself aborts the whole process, so the main thread waits for this flag
  // before it terminates one.
  const { mapFile } = await import('../../native/filemap.ts');
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  const size = new Float64Array(data.state, 8, 1)[0]!;
  const fd = fs.openSync(data.path, 'r');
  // Hashed in place from a mapping (a fifth faster than reading it out of the page cache). A
  // file cut short: the digest of what is there, which will not match.
  const have = Math.min(size, fs.fstatSync(fd).size);
  if (have > 0) {
    using map = mapFile(fd, have);
    for (let off = 0; off < have; off += PIECE) hash.update(new Uint8Array(map.bytes, off, Math.min(PIECE, have - off)));
  }
  fs.closeSync(fd);
  out.set(hash.digest());
  Atomics.store(ctl, 1, 2);
  Atomics.notify(ctl, 1);
}
