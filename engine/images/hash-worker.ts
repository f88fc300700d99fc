// SHA-256 on a second core, two ways (image-dir.ts):
// - ring: while a dump writes a large raw image, the main thread hands over each buffer it
//   writes through a ring of slots in shared memory; this worker hashes them in place and says
//   which slot it is done with;
// - file: at restore, a large image that exists already is read and hashed here while the main
//   thread rebuilds the tasks.
// Either way the digest goes back through shared memory and a control word set to 2.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { workerData } from 'node:worker_threads';

type Data =
  | { mode: 'ring'; ctl: SharedArrayBuffer; slots: SharedArrayBuffer; slotBytes: number; digest: SharedArrayBuffer }
  | { mode: 'file'; path: string; state: SharedArrayBuffer; digest: SharedArrayBuffer };

const data = workerData as Data;
const hash = crypto.createHash('sha256');
const out = new Uint8Array(data.digest);

if (data.mode === 'ring') {
  // ctl: [0] slots submitted, [1] slots hashed, [2] closed (1) / digest ready (2), [3..] lengths.
  const ctl = new Int32Array(data.ctl);
  const nSlots = ctl.length - 3;
  let hashed = 0;
  for (;;) {
    // Closed is read before the count: the main thread submits everything before it closes.
    const closed = Atomics.load(ctl, 2) === 1;
    const submitted = Atomics.load(ctl, 0);
    while (hashed < submitted) {
      const slot = hashed % nSlots;
      hash.update(new Uint8Array(data.slots, slot * data.slotBytes, Atomics.load(ctl, 3 + slot)));
      hashed++;
      Atomics.store(ctl, 1, hashed);
      Atomics.notify(ctl, 1);
    }
    if (closed) break;
    Atomics.wait(ctl, 0, submitted, 50);
  }
  out.set(hash.digest());
  Atomics.store(ctl, 2, 2);
  Atomics.notify(ctl, 2);
} else {
  // state: [0] Int32 done flag (1 → 2 when the digest is ready); a Float64 at byte 8: the size.
  const ctl = new Int32Array(data.state, 0, 2);
  const size = new Float64Array(data.state, 8, 1)[0]!;
  const fd = fs.openSync(data.path, 'r');
  const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
  // A file cut short: the digest of what is there, which will not match.
  for (let done = 0, n; done < size && (n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - done), done)) > 0; done += n) {
    hash.update(buf.subarray(0, n));
  }
  fs.closeSync(fd);
  out.set(hash.digest());
  Atomics.store(ctl, 1, 2);
  Atomics.notify(ctl, 1);
}
