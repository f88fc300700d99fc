// --leave-running leaves the original running and untouched; --leave-stopped (on dump and on
// restore) leaves the task stopped, and it carries on after SIGCONT.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { expectedListing } from '../helpers/manifest.ts';
import { parseReport } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { assertUntouched, dumpOk, killAtEnd, lastLine, restoreDetached, sleep, startCounter, taskStatus, waitDumpedGone } from './e2e.ts';

test('dump --leave-running: the original keeps running, untouched, its output continues', async (t) => {
  const dir = tmpDir('cryo-e2e-leave-running', t);
  const c = await startCounter(dir, t);
  const before = await c.report();
  await dumpOk(c.target.pid, join(dir, 'img'), ['--leave-running']);
  assertUntouched(c.target.pid, 'the dumped original');
  assert.equal(taskStatus(c.target.pid)?.ppid, process.pid, 'still our child, never replaced');
  const after = await c.assertAdvancing(Number(before['count']), before['token']!);
  assert.ok(Number(after['count']) > Number(before['count']));
  // Still the process we spawned: it has not exited.
  assert.equal(await Promise.race([c.target.exited, sleep(50).then(() => 'running')]), 'running');
  assertUntouched(c.target.pid, 'the dumped original');

  // The images are a real checkpoint: once the original is gone, they restore it as it was dumped.
  process.kill(c.target.pid, 'SIGKILL');
  await c.target.exited;
  killAtEnd(t, c.target.pid, c.target.comm);
  await restoreDetached(join(dir, 'img'));
  assertUntouched(c.target.pid, 'the restored checkpoint');
  await c.assertAdvancing(Number(before['count']), before['token']!);
});

test('dump --leave-running of 24 MiB (the task goes on before the pages are hashed): the manifest matches, the images restore', async (t) => {
  const dir = tmpDir('cryo-e2e-leave-running-big', t);
  const c = await startCounter(dir, t, 24);
  const before = await c.report();
  const img = join(dir, 'img');
  await dumpOk(c.target.pid, img, ['--leave-running']);
  assertUntouched(c.target.pid, 'the dumped original');
  await c.assertAdvancing(Number(before['count']), before['token']!);
  // The pages' hash was finished after the task was let go, still before the dump succeeded.
  const manifest = JSON.parse(readFileSync(join(img, 'manifest.json'), 'utf8')) as { files: Record<string, unknown> };
  const pages = readFileSync(join(img, 'pages-1.img'));
  assert.ok(pages.length >= 16 << 20, `pages-1.img is only ${pages.length} bytes`);
  assert.deepEqual(manifest.files['pages-1.img'], expectedListing(pages));
  // The pages were copied straight into their image, prepared before the freeze.
  assert.match(readFileSync(join(img, 'dump.log'), 'utf8'), /pages image of \d+ MiB prepared/);
  process.kill(c.target.pid, 'SIGKILL');
  await c.target.exited;
  killAtEnd(t, c.target.pid, c.target.comm);
  await restoreDetached(img);
  await c.assertAdvancing(Number(before['count']), before['token']!);
});

test('dump --leave-running with a stage too small for the pages: the staged part comes first, the rest is written frozen, the images restore', async (t) => {
  const dir = tmpDir('cryo-e2e-leave-running-stage', t);
  const c = await startCounter(dir, t, 40);
  const before = await c.report();
  const img = join(dir, 'img');
  await dumpOk(c.target.pid, img, ['--leave-running'], { env: { CRYO_STAGE_BYTES: String(20 << 20) } });
  assert.match(readFileSync(join(img, 'dump.log'), 'utf8'), /pages image of 20 MiB prepared/);
  assertUntouched(c.target.pid, 'the dumped original');
  await c.assertAdvancing(Number(before['count']), before['token']!);
  process.kill(c.target.pid, 'SIGKILL');
  await c.target.exited;
  killAtEnd(t, c.target.pid, c.target.comm);
  // The restored counter checks all 40 MiB of its pattern (mem=ok in its reports).
  await restoreDetached(img, ['--verify-images']);
  await c.assertAdvancing(Number(before['count']), before['token']!);
});

test('dump --leave-stopped: the original is left stopped, untraced, and continues after SIGCONT', async (t) => {
  const dir = tmpDir('cryo-e2e-dump-stopped', t);
  const c = await startCounter(dir, t);
  const before = await c.report();
  await dumpOk(c.target.pid, join(dir, 'img'), ['--leave-stopped']);
  const st = taskStatus(c.target.pid);
  assert.equal(st?.state, 'T', `state ${st?.state}, expected T (stopped)`);
  assert.equal(st?.tracerPid, 0, 'left stopped but still traced');
  process.kill(c.target.pid, 'SIGCONT');
  await c.assertAdvancing(Number(before['count']), before['token']!);
  assertUntouched(c.target.pid, 'the continued original');
});

test('restore --leave-stopped: the restored task is stopped, and continues after SIGCONT', async (t) => {
  const dir = tmpDir('cryo-e2e-restore-stopped', t);
  const c = await startCounter(dir, t);
  const before = await c.report();
  await dumpOk(c.target.pid, join(dir, 'img'));
  await waitDumpedGone(c.target);
  await restoreDetached(join(dir, 'img'), ['--leave-stopped']);
  const st = taskStatus(c.target.pid);
  assert.equal(st?.name, c.target.comm);
  assert.equal(st?.state, 'T', `state ${st?.state}, expected T (stopped)`);
  assert.equal(st?.tracerPid, 0);
  // Nothing runs while stopped.
  const lastCount = (): number => Number(parseReport(lastLine(c.log))['count']);
  const frozen = lastCount();
  await sleep(200);
  assert.equal(lastCount(), frozen, 'the stopped task kept counting');
  process.kill(c.target.pid, 'SIGCONT');
  const after = await c.assertAdvancing(Number(before['count']), before['token']!);
  assert.ok(Number(after['count']) >= frozen);
  assertUntouched(c.target.pid, 'the continued restored task');
});
