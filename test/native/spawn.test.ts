// spawnPlainChild (the restore helper's start): cryo's own child, not libuv's, on /dev/null, with
// no signal ignored or blocked though Node ignores SIGPIPE, and an empty environment.
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { SIG, sendSignal, spawnPlainChild, waitTask } from '../../native/index.ts';

const statusField = (pid: number, name: string): string => /^(\w+):\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2] ?? '';

test('spawnPlainChild starts a child on /dev/null with default signals and no environment', async () => {
  const pid = spawnPlainChild(['/bin/sleep', '100']);
  try {
    // Past the dynamic loader: sleeping in its own code.
    for (let i = 0; i < 200 && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('/bin/sleep'); i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]), process.pid, 'our child');
    for (const fd of [0, 1, 2]) assert.equal(readlinkSync(`/proc/${pid}/fd/${fd}`), '/dev/null', `fd ${fd}`);
    assert.equal(BigInt(`0x${statusField(pid, 'SigIgn')}`), 0n, 'nothing ignored (Node ignores SIGPIPE)');
    assert.equal(BigInt(`0x${statusField(pid, 'SigBlk')}`), 0n, 'nothing blocked');
    assert.equal(readFileSync(`/proc/${pid}/environ`, 'utf8'), '');
  } finally {
    sendSignal(pid, SIG.SIGKILL);
    const st = waitTask(pid);
    assert.equal(st.kind, 'signaled');
  }
});
