// recvmsg's struct msghdr and the control messages it returns (struct cmsghdr, SCM_RIGHTS).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AF, MSG, SCM, SOCK, SOL, closeFd, parseCmsgs, recvMsg, scmRights, sendTo, socketpair } from '../../native/index.ts';

function cmsg(level: number, type: number, data: Buffer): Buffer {
  const len = 16 + data.length;
  const b = Buffer.alloc((len + 7) & ~7);
  b.writeBigUInt64LE(BigInt(len), 0);
  b.writeInt32LE(level, 8);
  b.writeInt32LE(type, 12);
  data.copy(b, 16);
  return b;
}

test('control messages: credentials (12 bytes, padded) then SCM_RIGHTS with three fds', () => {
  const creds = Buffer.alloc(12);
  creds.writeInt32LE(1234, 0);
  const fds = Buffer.alloc(12);
  [7, 8, 42].forEach((fd, i) => fds.writeInt32LE(fd, i * 4));
  const control = Buffer.concat([cmsg(SOL.SOCKET, SCM.CREDENTIALS, creds), cmsg(SOL.SOCKET, SCM.RIGHTS, fds)]);
  const parsed = parseCmsgs(control);
  assert.deepEqual(parsed.map((c) => [c.level, c.type, c.data.length]), [[1, 2, 12], [1, 1, 12]]);
  assert.deepEqual(scmRights(parsed), [7, 8, 42]);
  assert.deepEqual(parseCmsgs(control.subarray(0, 40)).length, 1, 'a cut message is dropped');
});

test('recvMsg peeks a datagram without consuming it; no control data, MSG_TRUNC gives the real length', () => {
  const [a, b] = socketpair(AF.UNIX, SOCK.DGRAM);
  try {
    sendTo(a, Buffer.from('hello world'));
    const small = Buffer.alloc(5);
    const r = recvMsg(b, small, 256, MSG.PEEK | MSG.DONTWAIT | MSG.TRUNC);
    assert.equal(r.n, 11);
    assert.equal(small.toString(), 'hello');
    assert.equal(r.control.length, 0);
    assert.ok(r.flags & MSG.TRUNC, 'msg_flags says the datagram was cut');
    const all = Buffer.alloc(64);
    assert.equal(recvMsg(b, all, 0, MSG.DONTWAIT).n, 11);
    assert.equal(all.subarray(0, 11).toString(), 'hello world');
  } finally {
    closeFd(a);
    closeFd(b);
  }
});
