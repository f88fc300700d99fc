// What cryo can't checkpoint is refused by name, with a hint, and the tree runs on untouched
// (exit 4, as documented).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCryo } from '../helpers/cryo.ts';
import { buildTarget, parseReport, requestReport, startTarget } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { assertUntouched, sleep } from './e2e.ts';

test('a task holding an io_uring: exit 4 naming the fd and io_uring, with a hint; the task runs on', async (t) => {
  const dir = tmpDir('cryo-e2e-iouring', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('io_uring'), log], { t });
  const fd = parseReport(target.output())['fd'];
  const before = Number(parseReport(await requestReport(target.pid, log))['count']);
  const r = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'img')]);
  assert.equal(r.code, 4, `exit ${r.code}:\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`${target.pid}: can't dump fd ${fd}: anon_inode:\\[io_uring\\]`));
  assert.match(r.stderr, /hint: .*io_uring/i);
  // The log (on stderr by default) gives the verdict; the error itself is said once, with its hint.
  assert.match(r.stderr, /^Error: Dumping FAILED\.$/m);
  assert.equal(r.stderr.split(`can't dump fd ${fd}:`).length, 2, r.stderr);
  assertUntouched(target.pid, 'the io_uring holder');
  await sleep(50);
  assert.ok(Number(parseReport(await requestReport(target.pid, log))['count']) > before, 'it keeps counting');
});

for (const mode of ['stream', 'dgram'] as const) {
  test(`a file in flight in a ${mode} unix socket (SCM_RIGHTS, not received yet): exit 4 naming it; nothing is lost`, async (t) => {
    const dir = tmpDir(`cryo-e2e-scm-${mode}`, t);
    const log = join(dir, 'report.log');
    const target = await startTarget([buildTarget('scm_rights'), log, mode], { t });
    const r = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'img')]);
    assert.equal(r.code, 4, `exit ${r.code}:\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${target.pid}: fd \\d+: ${mode} unix socket .* file descriptors in flight .*SCM_RIGHTS.*: pipe:\\[\\d+\\]`));
    assert.match(r.stderr, /hint: files passed over a unix socket/);
    assertUntouched(target.pid, 'the sender');
    // The peek left the message, its fd and the pipe behind it where they were.
    const got = parseReport(await requestReport(target.pid, log));
    assert.deepEqual([got['got'], got['text'], got['fds'], got['pipe']], ['3', 'fd!', '1', 'through-the-passed-fd']);
  });
}
