// The CLI's CRIU options around a dump/restore: --action-script (CRIU's actions, order and
// environment, and a failing post-dump), restore --pidfile, and restore --exec-cmd.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCryo } from '../helpers/cryo.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { assertUntouched, cryoOutput, dumpOk, restoreDetached, sleep, spawnCryo, startCounter, taskStatus, waitDumpedGone } from './e2e.ts';

function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Lines `ACTION INIT_PID` the recording script wrote, as [action, pid-or-''] pairs. */
function recorded(path: string): [string, string][] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [action = '', pid = ''] = l.split(' ');
      return [action, pid];
    });
}

test('--action-script: dump fires pre-dump, post-dump; restore fires pre-restore, post-restore, pre-resume, post-resume', async (t) => {
  const dir = tmpDir('cryo-e2e-hooks', t);
  const out = join(dir, 'actions');
  const rec = script(dir, 'record.sh', `echo "$CRTOOLS_SCRIPT_ACTION $CRTOOLS_INIT_PID" >> ${out}\n[ -n "$CRTOOLS_IMAGE_DIR" ] || echo "no-image-dir $CRTOOLS_SCRIPT_ACTION" >> ${out}`);
  const c = await startCounter(dir, t, 4);
  const pid = String(c.target.pid);
  const img = join(dir, 'img');

  await dumpOk(c.target.pid, img, ['--action-script', rec]);
  await waitDumpedGone(c.target);
  const dumped = recorded(out);
  assert.deepEqual(
    dumped.map(([a]) => a),
    ['pre-dump', 'post-dump'],
  );
  for (const [a, p] of dumped) assert.ok(p === '' || p === pid, `${a}: CRTOOLS_INIT_PID=${p}, expected ${pid}`);

  writeFileSync(out, '');
  await restoreDetached(img, ['--action-script', rec]);
  assert.deepEqual(recorded(out), [
    ['pre-restore', ''], // CRIU: the root's pid is not known yet
    ['post-restore', pid],
    ['pre-resume', pid],
    ['post-resume', pid],
  ]);
  assertUntouched(c.target.pid, 'restored counter');
});

test('--action-script whose post-dump exits 1: dump exits 6 and the task keeps running', async (t) => {
  const dir = tmpDir('cryo-e2e-hook-veto', t);
  const veto = script(dir, 'veto.sh', '[ "$CRTOOLS_SCRIPT_ACTION" = post-dump ] && exit 1\nexit 0');
  const c = await startCounter(dir, t, 4);
  const before = await c.report();
  const r = await runCryo(['dump', '-t', String(c.target.pid), '-D', join(dir, 'img'), '--action-script', veto]);
  assert.equal(r.code, 6, `exit ${r.code}:\n${r.stderr}`);
  assert.match(r.stderr, /post-dump/);
  assertUntouched(c.target.pid, 'the counter after a vetoed dump');
  assert.equal(await Promise.race([c.target.exited, sleep(50).then(() => 'running')]), 'running', 'the task was killed');
  const after = await c.assertAdvancing(Number(before['count']), before['token']!);
  assert.equal(after['mem'], 'ok');
});

test('restore --pidfile writes the restored pid', async (t) => {
  const dir = tmpDir('cryo-e2e-pidfile', t);
  const c = await startCounter(dir, t, 4);
  await dumpOk(c.target.pid, join(dir, 'img'));
  await waitDumpedGone(c.target);
  const pidfile = join(dir, 'restored.pid');
  await restoreDetached(join(dir, 'img'), ['--pidfile', pidfile]);
  assert.equal(readFileSync(pidfile, 'utf8').trim(), String(c.target.pid));
  assertUntouched(c.target.pid, 'restored counter');
});

test('restore --exec-cmd: cryo becomes the command, the restored task\'s parent', async (t) => {
  const dir = tmpDir('cryo-e2e-exec-cmd', t);
  const c = await startCounter(dir, t, 4);
  const before = await c.report();
  await dumpOk(c.target.pid, join(dir, 'img'));
  await waitDumpedGone(c.target);
  const ids = join(dir, 'ids');
  // $$ is cryo's pid (exec keeps it); the shell then stays as `sleep` under the same pid.
  const cryo = spawnCryo(['restore', '-D', join(dir, 'img'), '--exec-cmd', '--', '/bin/sh', '-c', `echo $PPID-$$ > ${ids}; exec sleep 30`], t);
  for (let i = 0; i < 500 && !(existsSync(ids) && readFileSync(ids, 'utf8').endsWith('\n')) && cryo.exitCode === null; i++) await sleep(10);
  assert.ok(existsSync(ids), `the command did not run: ${cryoOutput(cryo)}`);
  const [ppid, self] = readFileSync(ids, 'utf8').trim().split('-').map(Number);
  assert.equal(self, cryo.pid, 'the command does not run in cryo\'s process');
  assert.equal(ppid, process.pid);
  const st = taskStatus(c.target.pid);
  assert.equal(st?.ppid, self, `the restored task's parent is ${st?.ppid}, not the exec'd command ${self}`);
  assertUntouched(c.target.pid, 'restored counter');
  await c.assertAdvancing(Number(before['count']), before['token']!);
  assert.equal(taskStatus(cryo.pid!)?.name, 'sleep');
});
