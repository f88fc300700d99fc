// Pipes: a task blocked in read() on a pipe is checkpointed and restored, and the read completes
// afterwards; bytes queued unread in a pipe come back after restore, exactly.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildTarget, parseReport, requestReport, startTarget } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { assertUntouched, dumpOk, restoreDetached, taskStatus, waitDumpedGone } from './e2e.ts';

test('pipe_reader: blocked in read() on a pipe, restored, the read completes', async (t) => {
  const dir = tmpDir('cryo-e2e-pipe', t);
  const log = join(dir, 'pipe.log');
  const target = await startTarget([buildTarget('pipe_reader'), log], { t });
  assert.match(await requestReport(target.pid, log), /^got 4 bytes total=4 reads=1 data=ping$/);

  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  await restoreDetached(join(dir, 'img'));
  assertUntouched(target.pid, 'restored pipe_reader');
  assert.equal(taskStatus(target.pid)?.state, 'S', 'blocked in read again');

  // The handler writes into the restored pipe; the restarted read() returns it.
  assert.match(await requestReport(target.pid, log), /^got 4 bytes total=8 reads=2 data=ping$/);
  assert.match(await requestReport(target.pid, log), /^got 4 bytes total=12 reads=3 data=ping$/);
  assertUntouched(target.pid, 'restored pipe_reader');
});

test('pipe_data: bytes queued unread in a pipe are there after restore, in order', async (t) => {
  const dir = tmpDir('cryo-e2e-pipedata', t);
  const log = join(dir, 'pipe.log');
  const target = await startTarget([buildTarget('pipe_data'), log, '50000'], { t });
  const queued = parseReport(target.output());
  assert.equal(queued['queued'], '50000');

  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  await restoreDetached(join(dir, 'img'));
  assertUntouched(target.pid, 'restored pipe_data');

  const r = parseReport(await requestReport(target.pid, log));
  assert.equal(r['read'], '50000', 'queued byte count');
  assert.equal(r['sum'], queued['sum'], 'queued bytes differ');
  assert.equal(r['data'], 'ok');
  // The pipe keeps working both ways after the restore.
  const again = parseReport(await requestReport(target.pid, log));
  assert.equal(again['data'], 'ok');
});
