// A Python process whose state lives only in memory (a random token, a counter) and in an
// append-mode log fd continues after dump + restore: same pid, same token, counter not reset,
// log not restarted.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTarget, waitForFileLine } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { PYTHON, assertUntouched, dumpOk, restoreDetached, sleep, taskStatus, waitDumpedGone } from './e2e.ts';

// The log is opened once, in append mode, line-buffered, and kept open.
const SCRIPT = `
import secrets, sys, time
token = secrets.token_hex(16)
log = open(sys.argv[1], 'a', buffering=1)
print('token', token, flush=True)
print('ready', flush=True)
count = 0
while True:
    count += 1
    log.write(f'{token} {count}\\n')
    time.sleep(0.05)
`;

function lines(path: string): { token: string; count: number }[] {
  const text = readFileSync(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [token, count] = l.split(' ');
      return { token: token!, count: Number(count) };
    });
}

test('python: token, counter and append-mode log survive dump + restore -d', async (t) => {
  const dir = tmpDir('cryo-e2e-python', t);
  const log = join(dir, 'py.log');
  const target = await startTarget([PYTHON, '-c', SCRIPT, log], { t });
  const token = /^token ([0-9a-f]{32})$/m.exec(target.output())?.[1];
  assert.ok(token, `no token in ${target.output()}`);
  await waitForFileLine(log, (l) => l.endsWith(' 5'));
  const inode = statSync(log).ino;

  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  const atDump = readFileSync(log, 'utf8');
  const dumped = lines(log).at(-1)!;
  await sleep(200); // nothing writes while it is dumped
  assert.equal(readFileSync(log, 'utf8'), atDump, 'the log changed while the process was dumped');

  await restoreDetached(join(dir, 'img'));
  const st = taskStatus(target.pid);
  assert.ok(st, 'restored pid is missing');
  assert.equal(st.name, target.comm);
  assertUntouched(target.pid, 'restored python');
  assert.equal(st.ppid, 1, 'restore -d leaves the task to init');

  await waitForFileLine(log, (l) => Number(l.split(' ')[1]) >= dumped.count + 10, 5000, { since: atDump.length });
  const after = readFileSync(log, 'utf8');
  assert.equal(statSync(log).ino, inode, 'the log was replaced');
  assert.ok(after.startsWith(atDump), 'the lines written before the dump are not all still there');
  const all = lines(log);
  all.forEach((l, i) => {
    assert.equal(l.token, token, `line ${i + 1} has another token`);
    assert.equal(l.count, i + 1, `line ${i + 1}: count ${l.count} (restarted or skipped)`);
  });
  const sizeNow = statSync(log).size;
  await sleep(150);
  assert.ok(statSync(log).size > sizeNow, 'the log stopped growing');
  assertUntouched(target.pid, 'restored python');

  // Once more, at once: the restored task is init's child now, so its pid is held by a zombie
  // until pid 1 reaps it, and restore has to wait for that.
  await dumpOk(target.pid, join(dir, 'img2'));
  const atDump2 = readFileSync(log, 'utf8');
  await restoreDetached(join(dir, 'img2'));
  assertUntouched(target.pid, 'twice restored python');
  const count2 = lines(log).at(-1)!.count;
  await waitForFileLine(log, (l) => Number(l.split(' ')[1]) >= count2 + 5, 5000, { since: atDump2.length });
  assert.ok(readFileSync(log, 'utf8').startsWith(atDump2));
  lines(log).forEach((l, i) => assert.deepEqual(l, { token, count: i + 1 }, `line ${i + 1} after the second restore`));
});
