// Archives and manifests without the engine: round trip, and a corrupted copy refused before
// anything reaches the engine's restore.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ImageError } from '../../errors.ts';
import { engineFunctions, packImages, runWorkflow, unpackImages, verifyImages, writeManifest } from '../../runner/index.ts';
import type { EnginePort } from '../../runner/index.ts';
import { checkNoChildrenLeft, tmp, workflow } from './helpers.ts';

checkNoChildrenLeft();

function fakeImages(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'inventory.img'), Buffer.from('inventory'));
  writeFileSync(join(dir, 'pages-1.img'), Buffer.alloc(3 * 4096 + 17, 7));
  writeManifest(dir);
}

for (const ext of ['tar', 'tar.gz']) {
  test(`pack → unpack round-trips (.${ext}) and verifies`, async (t) => {
    const dir = tmp(t);
    fakeImages(join(dir, 'src'));
    await packImages(join(dir, 'src'), join(dir, `a.${ext}`));
    await unpackImages(join(dir, `a.${ext}`), join(dir, 'out'));
    await verifyImages(join(dir, 'out'));
    assert.deepEqual(readFileSync(join(dir, 'out', 'pages-1.img')), readFileSync(join(dir, 'src', 'pages-1.img')));
  });
}

test('a flipped byte or a truncation is an ImageError naming the file', async (t) => {
  const dir = tmp(t);
  fakeImages(join(dir, 'src'));
  await packImages(join(dir, 'src'), join(dir, 'a.tar'));
  const buf = readFileSync(join(dir, 'a.tar'));
  const flipped = Buffer.from(buf);
  const at = buf.indexOf(Buffer.alloc(64, 7));
  flipped[at + 10] ^= 1;
  writeFileSync(join(dir, 'b.tar'), flipped);
  await unpackImages(join(dir, 'b.tar'), join(dir, 'b'));
  await assert.rejects(verifyImages(join(dir, 'b')), (e: unknown) => e instanceof ImageError && /pages-1\.img: sha256 mismatch/.test(e.message));
  writeFileSync(join(dir, 'c.tar'), buf.subarray(0, 2048));
  await assert.rejects(unpackImages(join(dir, 'c.tar'), join(dir, 'c')), (e: unknown) => e instanceof ImageError && /truncated/.test(e.message));
  const header = Buffer.from(buf);
  header[3] ^= 0x20;
  writeFileSync(join(dir, 'd.tar'), header);
  await assert.rejects(unpackImages(join(dir, 'd.tar'), join(dir, 'd')), /checksum/);
});

test('transfer dir → archive → dir verifies; restore refuses a corrupted archive before the engine runs', async (t) => {
  const dir = tmp(t);
  fakeImages(join(dir, 'images'));
  const calls: string[] = [];
  const engine: EnginePort = {
    ...engineFunctions(),
    restore: async () => {
      calls.push('restore');
      throw new Error('must not be called');
    },
  };
  const ship = workflow(dir, `version: 1
steps:
  - id: pack
    transfer: { from: images, to: out/images.tar.gz }
  - id: unpack
    transfer: { from: "\${{ steps.pack.outputs.archive }}", to: copy }
`);
  const r = await runWorkflow(ship, { engine });
  assert.equal(r.ok, true, String((r.error as Error | undefined)?.message));
  assert.equal(r.steps[1]!.outputs.dir, join(dir, 'copy'));
  await verifyImages(join(dir, 'copy'));
  const gz = readFileSync(join(dir, 'out/images.tar.gz'));
  gz[Math.floor(gz.length / 2)] ^= 0xff;
  writeFileSync(join(dir, 'out/images.tar.gz'), gz);
  const restore = workflow(dir, `version: 1
steps:
  - restore: { dir: out/images.tar.gz, detached: true }
`, 'restore.yaml');
  const r2 = await runWorkflow(restore, { engine });
  assert.equal(r2.ok, false);
  assert.ok(r2.error instanceof ImageError, String(r2.error));
  assert.deepEqual(calls, []);
});
