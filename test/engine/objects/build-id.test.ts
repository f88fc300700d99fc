// ELF build-ids: read from real binaries and compared with binutils' readelf; the note parser on
// hand-made notes; what is not ELF has none.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildIdInNotes, buildIdWords, elfProgramHeaders, readBuildId } from '../../../engine/objects/build-id.ts';
import { tmpDir } from '../../helpers/tmp.ts';

function readelfBuildId(path: string): string | undefined {
  return /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', path], { encoding: 'utf8' }))?.[1];
}

test('the build-id of /bin/true, of libc and of node is the one readelf prints', () => {
  const libc = /=> (\S+libc\.so\.6)/.exec(execFileSync('ldd', ['/bin/true'], { encoding: 'utf8' }))![1]!;
  for (const path of ['/bin/true', libc, process.execPath]) {
    const want = readelfBuildId(path);
    assert.ok(want, `readelf finds no build-id in ${path}`);
    assert.equal(readBuildId(path)?.toString('hex'), want, path);
  }
});

test('not ELF, or no file: no build-id', (t) => {
  const dir = tmpDir('cryo-build-id', t);
  writeFileSync(join(dir, 'text'), '#!/bin/sh\necho hi\n');
  assert.equal(readBuildId(join(dir, 'text')), undefined);
  assert.equal(readBuildId(join(dir, 'missing')), undefined);
  assert.equal(elfProgramHeaders(Buffer.from('\x7fELF')), undefined, 'too short');
});

test('notes: the GNU build-id is found after another note; a note with another name or type is not it', () => {
  const note = (name: string, type: number, desc: Buffer): Buffer => {
    const n = Buffer.from(name, 'latin1');
    const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
    const head = Buffer.alloc(12);
    head.writeUInt32LE(n.length, 0);
    head.writeUInt32LE(desc.length, 4);
    head.writeUInt32LE(type, 8);
    return Buffer.concat([head, pad(n), pad(desc)]);
  };
  const id = Buffer.from('0123456789abcdef0123', 'latin1');
  const notes = Buffer.concat([note('GNU\0', 1, Buffer.alloc(16, 7)), note('XYZ\0', 3, Buffer.alloc(8, 1)), note('GNU\0', 3, id)]);
  assert.deepEqual(buildIdInNotes(notes, true), id);
  assert.equal(buildIdInNotes(note('GNU\0', 1, id), true), undefined);
  assert.equal(buildIdInNotes(notes.subarray(0, notes.length - 4), true), undefined, 'cut short');
});

test('build-id words: little-endian 32-bit words, as CRIU stores them', () => {
  assert.deepEqual(buildIdWords(Buffer.from([1, 0, 0, 0, 0x78, 0x56, 0x34, 0x12])), [1, 0x12345678]);
  assert.deepEqual(buildIdWords(Buffer.from([0xff])), [0xff], 'padded with zeros');
});
