// The image-kind table: names, files, magics and payload rules are consistent with each other
// and with the schemas; where crit is installed, with crit's own magic list too.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { hasMessage, IMAGE_KINDS, imageFileName, kindByMagic, messageInfo } from '../../../engine/images/index.ts';
import type { ImageKind, ImageKindName } from '../../../engine/images/index.ts';
import { InternalError } from '../../../errors.ts';

const NAMES = Object.keys(IMAGE_KINDS) as ImageKindName[];
const row = (n: ImageKindName): ImageKind => IMAGE_KINDS[n];

/** Rows that share a magic with an earlier row (CRIU's SHMEM_PAGEMAP and PSIGNAL). */
const ALIASES: Partial<Record<ImageKindName, ImageKindName>> = { SHMEM_PAGEMAP: 'PAGEMAP', PSIGNAL: 'SIGNAL' };

test('magics: unique except the known aliases; each decodes to its own kind', () => {
  for (const n of NAMES) {
    if (row(n).magic === 0) {
      assert.equal(n, 'PAGES');
      continue;
    }
    assert.equal(kindByMagic(row(n).magic), ALIASES[n] ?? n, n);
  }
});

test('magic values given in decimal by criu-format §1.3', () => {
  const decimal: Partial<Record<ImageKindName, number>> = {
    INVENTORY: 1479618838, PSTREE: 1344745520, CORE: 1426405447, IDS: 1413685296, MM: 1464412192, PAGEMAP: 1443381285,
    FDINFO: 1445017394, FILES: 1445998904, FS: 1363163410, PIPES_DATA: 1447376649, SECCOMP: 1681993801, CGROUP: 1496855344,
    TIMENS: 1125205043,
  };
  for (const [n, v] of Object.entries(decimal)) assert.equal(row(n as ImageKindName).magic, v, n);
});

test('heads: inventory and raw pages have none, stats and irmap-cache the service head', () => {
  for (const n of NAMES) {
    const want = n === 'INVENTORY' || n === 'PAGES' ? 'none' : n === 'STATS' || n === 'IRMAP_CACHE' ? 'service' : 'common';
    assert.equal(row(n).head, want, n);
  }
});

test('file names are distinct and filled in as CRIU names them', () => {
  const files = NAMES.map((n) => row(n).file);
  assert.equal(new Set(files).size, files.length);
  assert.equal(imageFileName('CORE', 42), 'core-42.img');
  assert.equal(imageFileName('GHOST_FILE', 26), 'ghost-file-1a.img');
  assert.equal(imageFileName('TCP_STREAM', 255), 'tcp-stream-ff.img');
  assert.equal(imageFileName('STATS', 'dump'), 'stats-dump');
  assert.equal(imageFileName('PAGES', 1), 'pages-1.img');
  assert.equal(imageFileName('INVENTORY'), 'inventory.img');
  assert.throws(() => imageFileName('CORE'), InternalError);
  assert.throws(() => imageFileName('FILES', 1), InternalError);
  assert.throws(() => imageFileName('CORE', '../x'), InternalError);
});

test('messages and payload rules agree with the schemas', () => {
  // the kinds a cryo dump writes must all have schemas
  for (const n of ['INVENTORY', 'PSTREE', 'CORE', 'IDS', 'MM', 'PAGEMAP', 'FDINFO', 'FILES', 'FS', 'PIPES_DATA', 'FIFO_DATA', 'GHOST_FILE', 'STATS', 'SECCOMP', 'TIMENS', 'CGROUP'] as const) {
    assert.ok(hasMessage(row(n).message!), n);
  }
  for (const n of NAMES) {
    const k = row(n);
    if (k.first !== undefined) assert.ok(hasMessage(k.first), `${n}: ${k.first}`);
    if (k.payload === undefined || k.message === null || !hasMessage(k.message)) continue;
    const fields = k.payload.kind === 'sized' ? k.payload.fields : [k.payload.length];
    for (const f of fields) assert.ok(messageInfo(k.message).byName.has(f), `${n}: ${k.message}.${f}`);
    if (k.payload.kind === 'ghost') assert.ok(messageInfo(k.first!).byName.has(k.payload.chunked));
  }
});

test("crit's magic list (pycriu) matches the table", (t) => {
  const py = spawnSync('/usr/bin/python3', ['-c', 'import json, pycriu.images.magic as m; print(json.dumps(m.by_name))'], { encoding: 'utf8' });
  if (py.status !== 0) {
    if (process.env['CI']) assert.fail(`pycriu is not installed (apt-get install -y criu): ${py.stderr}`);
    t.skip('pycriu (Debian criu package) is not installed');
    return;
  }
  const byName = JSON.parse(py.stdout) as Record<string, number>;
  const notImages = new Set(['CRTOOLS_IMAGES_V1_1', 'IMG_COMMON', 'IMG_SERVICE', 'KDAT']);
  for (const [name, magic] of Object.entries(byName)) {
    if (notImages.has(name)) continue;
    assert.ok(name in IMAGE_KINDS, `crit knows ${name}, the table does not`);
    assert.equal(row(name as ImageKindName).magic, magic, name);
  }
});
