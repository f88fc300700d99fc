// Netlink multicast groups: NETLINK_LIST_MEMBERSHIPS' bitmap to netlink_sk_entry.groups and back
// to the group numbers NETLINK_ADD_MEMBERSHIP takes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupWords, groupsOf } from '../../../engine/objects/netlink-sockets.ts';

test('group bitmap words: trailing zero words dropped; groups are 1-based bit numbers', () => {
  const bitmap = Buffer.alloc(16);
  bitmap.writeUInt32LE(0x11, 0); // groups 1 and 5
  bitmap.writeUInt32LE(0x80000001, 4); // groups 33 and 64
  assert.deepEqual(groupWords(bitmap), [0x11, 0x80000001]);
  assert.deepEqual(groupsOf(groupWords(bitmap)), [1, 5, 33, 64]);
  assert.deepEqual(groupWords(Buffer.alloc(8)), []);
  assert.deepEqual(groupsOf([]), []);
});
