// CRIU's own decoder reads what cryo writes: a small dump written with ImageWriter is decoded by
// `crit decode` (Debian's criu 3.17.1), and toCritJson() prints exactly what crit prints.
// crit 3.17.1 predates some HEAD fields (criu-format §2.7); it drops them, so our side drops them
// too before comparing, and field 2 of pagemap_entry is called nr_pages there.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { decodeImageFile, entryMessage, IMAGE_KINDS, ImageReader, ImageWriter, messageInfo, toCritJson } from '../../../engine/images/index.ts';
import type { DecodedImage, Entry } from '../../../engine/images/index.ts';
import { DUMP, DUMP_STATS, MORE, PAGES } from './samples.ts';

const run = promisify(execFile);

/** Fields crit 3.17.1's schema does not have (criu-format §2.7), by message. */
const HEAD_ONLY: Readonly<Record<string, readonly string[]>> = {
  inventory_entry: ['plugins_entry', 'dump_criu_run_id', 'allow_uprobes'],
  task_core_entry: ['stop_signo', 'membarrier_registration_mask'],
  thread_core_entry: ['cg_set'],
  creds_entry: ['no_new_privs', 'cap_amb'],
  user_x86_xsave_entry: ['cet'],
  pagemap_entry: ['nr_pages'],
};

/** crit 3.17.1's encoder fails on these: ipc_shm_handler.dump base64-decodes a str (Python 3 TypeError). */
const CRIT_ENCODE_BROKEN = new Set(['IPCNS_SHM']);

/** Kinds with fields crit --pretty renders as flag names, major:minor, socket names or IP addresses, which toCritJson doesn't. */
const PRETTY_NOT_REPRODUCED = new Set(['MM', 'VMAS', 'PAGEMAP', 'FILES', 'REG_FILES', 'GHOST_FILE', 'MEMFD_INODE', 'INOTIFY_WD', 'IRMAP_CACHE', 'INETSK']);

function as317(type: string, entry: Entry): Entry {
  const out: Entry = {};
  for (const f of messageInfo(type).fields) {
    const v = entry[f.name];
    if (v === undefined || HEAD_ONLY[type]?.includes(f.name)) continue;
    const conv = (x: unknown): unknown => (f.kind === 'message' ? as317(f.message!, x as Entry) : x);
    out[f.name] = Array.isArray(v) ? v.map(conv) : conv(v);
  }
  return out;
}

/** What crit 3.17.1 prints for an image, per toCritJson. */
function expected317(img: DecodedImage, pretty: boolean): string {
  const kind = IMAGE_KINDS[img.magic];
  const entries = img.entries.map((e, i) => as317(entryMessage(kind, i), e));
  const json = toCritJson({ ...img, entries }, { pretty });
  return img.magic === 'PAGEMAP' ? json.replaceAll('"compat_nr_pages": ', '"nr_pages": ') : json;
}

function critAvailable(): boolean {
  const r = spawnSync('crit', ['--help'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

async function crit(args: readonly string[]): Promise<string> {
  const { stdout } = await run('crit', args, { maxBuffer: 64 << 20 });
  return stdout.replace(/\n$/, ''); // crit adds one newline on stdout
}

function writeDump(dir: string): void {
  const w = new ImageWriter(dir);
  for (const s of DUMP) w.write(s.kind, s.entries, { ...(s.id === undefined ? {} : { id: s.id }), ...(s.payloads === undefined ? {} : { payloads: s.payloads }) });
  using pages = w.openRaw('pages-1.img');
  pages.write(PAGES.subarray(0, 4096));
  pages.write(PAGES.subarray(4096));
  pages.close();
  w.writeStats('dump', DUMP_STATS);
  w.finish();
}

function writeMore(dir: string): void {
  const w = new ImageWriter(dir);
  // crit 3.17.1 has no decoder for SIGNAL images (it knows the magic only)
  for (const s of MORE) {
    if (s.kind === 'SIGNAL') continue;
    w.write(s.kind, s.entries, { ...(s.id === undefined ? {} : { id: s.id }), ...(s.payloads === undefined ? {} : { payloads: s.payloads }) });
  }
  w.finish();
}

test('crit decode reads every image cryo writes, and toCritJson matches it', async (t) => {
  if (!critAvailable()) {
    if (process.env['CI']) assert.fail('crit is not installed (apt-get install -y criu); it is required in CI');
    t.skip('crit is not installed (apt-get install -y criu)');
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cryo-crit-'));
  try {
    const dumpDir = path.join(tmp, 'dump');
    const moreDir = path.join(tmp, 'more');
    writeDump(dumpDir);
    writeMore(moreDir);
    new ImageReader(dumpDir).verify();
    const files = [dumpDir, moreDir].flatMap((d) =>
      fs.readdirSync(d).filter((n) => !n.startsWith('pages-') && n !== 'manifest.json').map((n) => path.join(d, n)),
    );
    assert.ok(files.length >= 30, `only ${files.length} images`);

    await Promise.all(files.map(async (file) => {
      const name = path.basename(file);
      const img = decodeImageFile(file);
      const plain = await crit(['decode', '-i', file]);
      assert.equal(plain, expected317(img, false), `${name}: crit decode differs`);

      if (!PRETTY_NOT_REPRODUCED.has(img.magic)) {
        const pretty = await crit(['decode', '--pretty', '-i', file]);
        assert.equal(pretty, expected317(img, true), `${name}: crit decode --pretty differs`);
      }

      // Where crit's schema knows every field we wrote, its encoder gives back our exact bytes.
      if (plain === toCritJson(img) && !CRIT_ENCODE_BROKEN.has(img.magic)) {
        const out = `${file}.crit`;
        await run('sh', ['-c', 'crit decode -i "$1" | crit encode -o "$2"', 'sh', file, out]);
        assert.ok(fs.readFileSync(out).equals(fs.readFileSync(file)), `${name}: crit decode | crit encode changed the bytes`);
        fs.rmSync(out);
      }
    }));

    // key values, read straight from crit's text (JSON.parse would round the u64s)
    const core = await crit(['decode', '-i', path.join(dumpDir, 'core-42.img')]);
    assert.match(core, /"r15": 18446744073709551615,/);
    assert.match(core, /"comm": "sl\\u00e9ep \\"\\t\\"",/);
    assert.match(core, /"oom_score_adj": -1000,/);
    assert.match(core, /"mtype": "X86_64"/);
    const pagemap = await crit(['decode', '-i', path.join(dumpDir, 'pagemap-42.img')]);
    assert.match(pagemap, /^\{"magic": "PAGEMAP", "entries": \[\{"pages_id": 1\}, \{"vaddr": 1431658496, "nr_pages": 2, "flags": 6\}/);
    const mm = await crit(['decode', '-i', path.join(dumpDir, 'mm-42.img')]);
    assert.match(mm, /"start": 18446744073699065856, "end": 18446744073699069952,/);
    assert.match(mm, /"fd": -1/);
    const ghost = await crit(['decode', '--pretty', '-i', path.join(dumpDir, 'ghost-file-1b.img')]);
    assert.match(ghost, /"extra": "MDEyMzQ1Njc4OQ==\\n"/);
    const regs = await crit(['decode', '--pretty', '-i', path.join(dumpDir, 'core-42.img')]);
    assert.match(regs, /"r15": "0xffffffffffffffff"/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
