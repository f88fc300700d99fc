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
  assertUntouched(target.pid, 'the io_uring holder');
  await sleep(50);
  assert.ok(Number(parseReport(await requestReport(target.pid, log))['count']) > before, 'it keeps counting');
});
