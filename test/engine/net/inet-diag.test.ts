import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inetDiagRequest, parseInetDiag } from '../../../engine/net/index.ts';
import { fixtureBuffer } from '../../helpers/repo.ts';

test('a TCP listener: state, address, port, backlog, inode', () => {
  const d = parseInetDiag(fixtureBuffer('net/inet-diag-tcp4-listen.bin'));
  assert.deepEqual(
    { ...d, src: [...d.src], dst: [...d.dst] },
    { family: 2, state: 10, srcPort: 34017, dstPort: 0, src: [127, 0, 0, 1], dst: [0, 0, 0, 0], rqueue: 0, wqueue: 7, uid: 0, inode: 448561, shutdown: 0 },
  );
});

test('a connected IPv6 UDP socket: both ends, 16-byte addresses', () => {
  const d = parseInetDiag(fixtureBuffer('net/inet-diag-udp6-connected.bin'));
  assert.equal(d.family, 10);
  assert.equal(d.state, 1);
  assert.deepEqual([d.srcPort, d.dstPort, d.inode], [44037, 9, 448562]);
  assert.equal(d.src.length, 16);
  assert.equal(d.dst.toString('hex'), '00000000000000000000000000000001');
});

test('the request: nlmsghdr SOCK_DIAG_BY_FAMILY dump, family/protocol, every state, no cookie', () => {
  const r = inetDiagRequest(10, 17, 5);
  assert.equal(r.length, 72);
  assert.equal(r.readUInt32LE(0), 72);
  assert.equal(r.readUInt16LE(4), 20);
  assert.equal(r.readUInt16LE(6), 0x301);
  assert.equal(r.readUInt32LE(8), 5);
  assert.deepEqual([r[16], r[17]], [10, 17]);
  assert.equal(r.readUInt32LE(20), 0xffffffff);
  assert.equal(r.readUInt32LE(64), 0xffffffff);
  assert.equal(r.readUInt32LE(68), 0xffffffff);
});

test('a truncated reply is refused', () => {
  assert.throws(() => parseInetDiag(fixtureBuffer('net/inet-diag-tcp4-listen.bin').subarray(0, 40)), RangeError);
});
