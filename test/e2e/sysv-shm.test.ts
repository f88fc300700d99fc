// System V shared memory attached by a task survives dump + restore: the same shmid, key, mode and
// size, the content, both attachments at their addresses (still one segment). A segment marked
// for removal goes with the killed task and is re-created; one that is not stays, and is reused —
// or re-created with its id and key when it was removed meanwhile.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { critDecode, critSkip } from '../helpers/crit.ts';
import { buildTarget, parseReport, requestReport, startTarget } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { dumpOk, restoreDetached, waitDead, waitDumpedGone } from './e2e.ts';

interface ShmRow {
  readonly key: number;
  readonly perms: number;
  readonly size: number;
  readonly nattch: number;
}

/** The segment `id` as /proc/sysvipc/shm shows it, or undefined. */
function shmRow(id: number): ShmRow | undefined {
  for (const line of readFileSync('/proc/sysvipc/shm', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (Number(f[1]) === id) return { key: Number(f[0]), perms: parseInt(f[2]!, 8), size: Number(f[3]), nattch: Number(f[6]) };
  }
  return undefined;
}

/** `ipcs -m` lists the id. */
function ipcsLists(id: number): boolean {
  return execFileSync('ipcs', ['-m'], { encoding: 'utf8' }).split('\n').some((l) => l.trim().split(/\s+/)[1] === String(id));
}

function removeAtEnd(t: TestContext, id: () => number | undefined): void {
  t.after(() => {
    const i = id();
    if (i !== undefined && shmRow(i)) execFileSync('ipcrm', ['-m', String(i)]);
  });
}

async function assertRestored(pid: number, log: string, before: Record<string, string>): Promise<void> {
  const after = parseReport(await requestReport(pid, log));
  assert.equal(after.shmid, before.shmid, 'same shmid');
  assert.equal(after.pattern, 'ok', 'content');
  assert.equal(after.shared, 'ok', 'both attachments map one segment');
  assert.equal(after.rw, before.rw, 'read-write attachment address');
  assert.equal(after.ro, before.ro, 'read-only attachment address');
}

test('a segment marked for removal: gone with the dumped task, re-created with its id by the restore', async (t) => {
  const dir = tmpDir('cryo-sysv-rmid', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('sysv_shm'), log, 'rmid'], { t });
  const before = parseReport(await requestReport(target.pid, log));
  const id = Number(before.shmid);
  const row = shmRow(id);
  assert.ok(row, 'segment exists');
  assert.equal(row.perms & 0o1000, 0o1000, 'marked for removal (SHM_DEST)');
  const img = join(dir, 'img');
  await dumpOk(target.pid, img);
  await waitDumpedGone(target);
  assert.equal(shmRow(id), undefined, 'the segment went with the last detach');

  await restoreDetached(img);
  removeAtEnd(t, () => id);
  assert.ok(ipcsLists(id), 'ipcs -m shows the same id:\n' + execFileSync('ipcs', ['-m'], { encoding: 'utf8' }) + readFileSync('/proc/sysvipc/shm', 'utf8'));
  assert.deepEqual(shmRow(id), row, 'key, mode (still marked for removal), size, two attachments');
  await assertRestored(target.pid, log, before);
  process.kill(target.pid, 'SIGKILL');
  await waitDead(target.pid);
  for (let i = 0; i < 100 && shmRow(id); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(shmRow(id), undefined, 'removed again with the restored task');
});

test('a segment with a key that stays: reused when still there, re-created with id and key when removed', async (t) => {
  const dir = tmpDir('cryo-sysv-keep', t);
  const log = join(dir, 'report.log');
  const key = (0x43520000 | (process.pid & 0xffff)) >>> 0;
  let id: number | undefined;
  removeAtEnd(t, () => id);
  const target = await startTarget([buildTarget('sysv_shm'), log, 'keep', key.toString(16)], { t });
  const before = parseReport(await requestReport(target.pid, log));
  id = Number(before.shmid);
  const row = shmRow(id)!;
  assert.equal(row.key, key);

  const img1 = join(dir, 'img1');
  await dumpOk(target.pid, img1);
  await waitDumpedGone(target);
  assert.equal(shmRow(id)?.nattch, 0, 'the segment stays without the task');
  await restoreDetached(img1);
  assert.equal(shmRow(id)?.nattch, 2, 'the restored task attached the segment that was still there');
  await assertRestored(target.pid, log, before);

  const img2 = join(dir, 'img2');
  await dumpOk(target.pid, img2);
  await waitDead(target.pid);
  execFileSync('ipcrm', ['-m', String(id)]);
  assert.equal(shmRow(id), undefined);
  await restoreDetached(img2);
  assert.deepEqual(shmRow(id), { ...row, nattch: 2 }, 're-created with the same id, key, mode and size');
  await assertRestored(target.pid, log, before);

  if (!critSkip) {
    const img = readdirSync(img2).find((f) => f.startsWith('ipcns-shm-'));
    assert.ok(img, 'ipcns-shm image written');
    const shm = await critDecode(join(img2, img));
    assert.equal(shm.entries.length, 1);
    assert.equal(shm.entries[0]!.desc.id, id);
    assert.equal(shm.entries[0]!.desc.key, key);
    assert.equal(shm.entries[0]!.size, 3 * 4096 + 102);
  }
});
