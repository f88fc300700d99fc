// The unix_diag reply parser, on replies captured from the kernel (test/fixtures/net/README).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { RuntimeError } from '../../../errors.ts';
import { SOCK_DIAG_BY_FAMILY, UNIX_STATE, parseUnixDiagReply, unixDiagRequest } from '../../../engine/net/index.ts';
import { repoRoot } from '../../helpers/repo.ts';

const fixture = (name: string): Buffer => readFileSync(join(repoRoot(), 'test', 'fixtures', 'net', name));

test('a listener: abstract name, backlog, the pending connection', () => {
  const r = parseUnixDiagReply(fixture('unix-diag-listen.bin'));
  assert.equal(r.kind, 'sockets');
  assert.equal(r.sockets.length, 1);
  const s = r.sockets[0]!;
  assert.deepEqual([s.type, s.state, s.ino, s.shutdown], [1, UNIX_STATE.LISTEN, 397915, 0]);
  assert.deepEqual(s.name, Buffer.from('\0cryo-fixture-listen'));
  assert.deepEqual(s.icons, [397916]);
  assert.deepEqual(s.rqlen, { rqueue: 1, wqueue: 5 });
  assert.equal(s.peer, undefined);
  assert.equal(s.vfs, undefined);
});

test('a socketpair end: peer, queued bytes, shut-down reading half, no name', () => {
  const r = parseUnixDiagReply(fixture('unix-diag-pair.bin'));
  assert.equal(r.kind, 'sockets');
  const s = r.sockets[0]!;
  assert.deepEqual([s.type, s.state, s.ino, s.peer, s.shutdown], [5, UNIX_STATE.ESTABLISHED, 397921, 397920, 1]);
  assert.deepEqual(s.rqlen, { rqueue: 8, wqueue: 0 });
  assert.equal(s.name, undefined);
});

test('an unknown inode is an error reply (ENOENT)', () => {
  assert.deepEqual(parseUnixDiagReply(fixture('unix-diag-enoent.bin')), { kind: 'error', errno: 2 });
});

test('truncated replies are refused, not misread', () => {
  const b = fixture('unix-diag-pair.bin');
  assert.throws(() => parseUnixDiagReply(b.subarray(0, b.length - 4)), RuntimeError);
  const bad = Buffer.from(b);
  bad.writeUInt16LE(200, 16 + 16); // first attribute claims more bytes than the message has
  assert.throws(() => parseUnixDiagReply(bad), /overruns the message/);
});

test('requests: by inode, or a dump of every socket', () => {
  const one = unixDiagRequest(7, 397921);
  assert.equal(one.length, 40);
  assert.equal(one.readUInt32LE(0), 40);
  assert.equal(one.readUInt16LE(4), SOCK_DIAG_BY_FAMILY);
  assert.equal(one.readUInt16LE(6), 1); // NLM_F_REQUEST
  assert.equal(one.readUInt32LE(8), 7);
  assert.equal(one.readUInt8(16), 1); // AF_UNIX
  assert.equal(one.readUInt32LE(24), 397921);
  assert.equal(unixDiagRequest(1).readUInt16LE(6), 0x301); // NLM_F_REQUEST | NLM_F_DUMP
});
