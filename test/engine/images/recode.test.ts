// encode → decode → encode is byte-identical, and decode gives back exactly what was encoded,
// for a representative entry of every message in schemas/criu.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeImage, encodeImage, entryMessage, IMAGE_KINDS, imageFileName, listMessages, messageInfo } from '../../../engine/images/index.ts';
import type { Entry } from '../../../engine/images/index.ts';
import { DUMP, MORE } from './samples.ts';
import type { Sample } from './samples.ts';

const SAMPLES: readonly Sample[] = [...DUMP, ...MORE];

function bytesOf(s: Sample): Buffer {
  return Buffer.concat(encodeImage(s.kind, s.entries, s.payloads, imageFileName(s.kind, s.id)));
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

for (const s of SAMPLES) {
  const file = imageFileName(s.kind, s.id);
  test(`recode ${file}`, () => {
    const first = bytesOf(s);
    const decoded = decodeImage(first, file, s.kind);
    assert.deepEqual(decoded.entries, s.entries);
    assert.deepEqual(decoded.payloads, s.payloads);
    const again = Buffer.concat(encodeImage(s.kind, decoded.entries, decoded.payloads, file));
    assert.ok(again.equals(first), `${file}: re-encoded bytes differ`);
  });
}

test('every message in schemas/criu is exercised by a sample', () => {
  const seen = new Set<string>();
  const walk = (type: string, entry: Entry): void => {
    seen.add(type);
    for (const f of messageInfo(type).fields) {
      const v = entry[f.name];
      if (f.kind !== 'message' || v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) walk(f.message!, x as Entry);
    }
  };
  for (const s of SAMPLES) {
    const decoded = decodeImage(bytesOf(s), 'sample', s.kind);
    decoded.entries.forEach((e, i) => walk(entryMessage(IMAGE_KINDS[s.kind], i), e));
  }
  const missing = listMessages().filter((m) => m !== 'criu_field_opts' && !seen.has(m));
  assert.deepEqual(missing, []);
});

test('64-bit values are exact bigints, 32-bit numbers, bytes Buffers', () => {
  const s = DUMP.find((x) => x.kind === 'CORE')!;
  const [core] = decodeImage(bytesOf(s), 'core-42.img', 'CORE').entries as [Entry];
  const regs = (core['thread_info'] as Entry)['gpregs'] as Entry;
  assert.equal(regs['r15'], 0xffffffffffffffffn);
  assert.equal(regs['mode'], 1);
  const tc = core['tc'] as Entry;
  assert.equal(tc['oom_score_adj'], -1000);
  assert.equal(tc['loginuid'], 0xffffffff);
  assert.ok(Buffer.isBuffer(((tc['signals_s'] as Entry)['signals'] as Entry[])[0]!['siginfo']));
  const mm = decodeImage(bytesOf(DUMP.find((x) => x.kind === 'MM')!), 'mm-42.img', 'MM').entries[0]!;
  assert.equal((mm['vmas'] as Entry[])[0]!['fd'], -1n);
});

test('bytes as CRIU writes them recode identically: pagemap entry, empty seccomp image', () => {
  // CRIU 4.2 pagemap entry: vaddr 0x55556000, compat_nr_pages 0, flags 4, nr_pages 1 (criu-format §1.1)
  const entry = Buffer.from([0x08, 0x80, 0xc0, 0xd5, 0xaa, 0x05, 0x10, 0x00, 0x20, 0x04, 0x28, 0x01]);
  const head = Buffer.from([0x08, 0x01]);
  const img = Buffer.concat([u32(0x54564319), u32(0x56084025), u32(head.length), head, u32(entry.length), entry]);
  const decoded = decodeImage(img, 'pagemap-1.img', 'PAGEMAP');
  assert.deepEqual(decoded.entries, [{ pages_id: 1 }, { vaddr: 0x55556000n, compat_nr_pages: 0, flags: 4, nr_pages: 1n }]);
  assert.ok(Buffer.concat(encodeImage('PAGEMAP', decoded.entries, undefined, 'pagemap-1.img')).equals(img));

  const seccomp = Buffer.from('19435654' + '49304164' + '00000000', 'hex');
  const sd = decodeImage(seccomp, 'seccomp.img', 'SECCOMP');
  assert.deepEqual(sd.entries, [{}]);
  assert.ok(Buffer.concat(encodeImage('SECCOMP', sd.entries, undefined, 'seccomp.img')).equals(seccomp));
});

test('required fields are written even when 0; optional only when present; repeated unpacked', () => {
  const bytes = Buffer.concat(encodeImage('PSTREE', [{ pid: 0, ppid: 0, pgid: 0, sid: 0, threads: [1, 2] }], undefined, 'pstree.img'));
  // after the 8-byte header and u32 size: pid 0, ppid 0, pgid 0, sid 0, threads 1, threads 2
  assert.equal(bytes.subarray(12).toString('hex'), '0800100018002000' + '28012802');
  const fs = Buffer.concat(encodeImage('FS', [{ cwd_id: 1, root_id: 1 }], undefined, 'fs-1.img'));
  assert.equal(fs.subarray(12).toString('hex'), '08011001');
  const fs0 = Buffer.concat(encodeImage('FS', [{ cwd_id: 1, root_id: 1, umask: 0 }], undefined, 'fs-1.img'));
  assert.equal(fs0.subarray(12).toString('hex'), '080110011800');
});
