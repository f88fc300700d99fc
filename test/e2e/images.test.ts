// The images: CRIU's own `crit decode` reads every image cryo writes; `cryo show` prints crit's
// shape; and restore refuses a corrupted, truncated or missing image by name, before it creates
// any process.
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { TestContext } from 'node:test';
import { CRIT, crit, critSkip } from '../helpers/crit.ts';
import { runCryo } from '../helpers/cryo.ts';
import { buildTarget, startTarget } from '../helpers/targets.ts';
import type { Target } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { assertUntouched, cryoOk, dumpOk, killAtEnd, pidFree, restoreDetached, sleep, startCounter, taskTids, waitDead, waitDumpedGone } from './e2e.ts';


/** Every image crit can decode: the *.img files but the raw pages-*.img, and stats-dump. */
function decodableImages(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => (f.endsWith('.img') && !/^pages-\d+\.img$/.test(f)) || f === 'stats-dump')
    .sort();
}

async function assertCritDecodesAll(dir: string, pids: number[]): Promise<void> {
  assert.ok(existsSync(CRIT), `${CRIT} is missing: CI must install Debian's criu package`);
  const files = decodableImages(dir);
  for (const must of ['inventory.img', 'pstree.img', 'files.img', 'stats-dump', ...pids.flatMap((p) => [`core-${p}.img`])]) {
    assert.ok(files.includes(must), `${must} was not written (have ${files.join(' ')})`);
  }
  const failed: string[] = [];
  for (const f of files) {
    const r = await crit(['decode', '-i', join(dir, f)]);
    if (r.code !== 0) {
      failed.push(`${f}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
      continue;
    }
    const magic = (JSON.parse(r.stdout) as { magic?: string }).magic;
    if (typeof magic !== 'string' || magic === '') failed.push(`${f}: no magic in crit's output`);
  }
  assert.deepEqual(failed, [], `crit decode failed on:\n${failed.join('\n')}`);
}

test('crit decodes every image of a counter dump; cryo show prints a CORE image', { skip: critSkip }, async (t) => {
  const dir = tmpDir('cryo-e2e-images-counter', t);
  const c = await startCounter(dir, t, 4);
  const img = join(dir, 'img');
  await dumpOk(c.target.pid, img);
  await waitDumpedGone(c.target);
  await assertCritDecodesAll(img, [c.target.pid]);

  const show = await cryoOk(['show', join(img, `core-${c.target.pid}.img`)]);
  const core = JSON.parse(show.stdout) as { magic: string; entries: { tc?: { comm?: string } }[] };
  assert.equal(core.magic, 'CORE');
  assert.equal(core.entries.length, 1);
  assert.equal(core.entries[0]?.tc?.comm, 'counter');
});

test('crit decodes every image of a multi-threaded dump (a core image per thread)', { skip: critSkip }, async (t) => {
  const dir = tmpDir('cryo-e2e-images-threads', t);
  const target = await startTarget([buildTarget('threads'), join(dir, 'threads.log'), '3'], { t });
  const tids = taskTids(target.pid);
  const img = join(dir, 'img');
  await dumpOk(target.pid, img);
  await waitDumpedGone(target);
  await assertCritDecodesAll(img, tids);
});

/** A counter dumped once, before the tests below; each test damages its own copy of the images. */
let pristine: { img: string; target: Target } | undefined;
const pristineDir = tmpDir('cryo-e2e-images-corrupt'); // removed when the file's tests end
before(async () => {
  const dir = pristineDir;
  const c = await startCounter(dir, undefined, 4);
  const img = join(dir, 'img');
  await dumpOk(c.target.pid, img);
  await waitDumpedGone(c.target);
  pristine = { img, target: c.target };
});

function dumpedCounter(): { img: string; target: Target } {
  assert.ok(pristine, 'the counter was not dumped');
  return pristine;
}

async function assertRefused(t: TestContext, damage: (img: string, pid: number) => string): Promise<void> {
  const { img, target } = dumpedCounter();
  const copy = join(tmpDir('cryo-e2e-images-bad', t), 'img');
  cpSync(img, copy, { recursive: true });
  const file = damage(copy, target.pid);
  const r = await runCryo(['restore', '-d', '-D', copy]);
  assert.equal(r.code, 3, `restore of images with a damaged ${file}: exit ${r.code}, expected 3\n${r.stderr}`);
  assert.ok(r.stderr.includes(file), `the error does not name ${file}:\n${r.stderr}`);
  assert.ok(pidFree(target.pid), `a process was created with pid ${target.pid}`);
}

test('a flipped byte in pages-1.img: restore exits 3 naming it, and creates no process', async (t) => {
  await assertRefused(t, (img) => {
    const path = join(img, 'pages-1.img');
    const buf = readFileSync(path);
    const at = buf.length >> 1;
    buf[at] = buf[at]! ^ 0x01;
    writeFileSync(path, buf);
    return 'pages-1.img';
  });
});

test('a flipped byte in a large pages image (hashed while the task is rebuilt): restore exits 3, and no process is left', async (t) => {
  // From 16 MiB on, restore checks the pages' sha256 in the background and only before the task
  // may run: the half-restored task must be gone, and the error the same.
  const dir = tmpDir('cryo-e2e-images-bigpages', t);
  const c = await startCounter(dir, t, 24);
  const img = join(dir, 'img');
  await dumpOk(c.target.pid, img);
  await waitDumpedGone(c.target);
  const path = join(img, 'pages-1.img');
  const buf = readFileSync(path);
  assert.ok(buf.length >= 16 << 20, `pages-1.img is only ${buf.length} bytes`);
  const at = buf.length - 4096 * 3 + 17;
  buf[at] = buf[at]! ^ 0x40;
  writeFileSync(path, buf);
  const r = await runCryo(['restore', '-d', '-D', img]);
  assert.equal(r.code, 3, `restore of a damaged pages-1.img: exit ${r.code}, expected 3\n${r.stderr}`);
  assert.match(r.stderr, /pages-1\.img: sha256 mismatch/);
  assert.ok(pidFree(c.target.pid), `a process is left with pid ${c.target.pid}`);
});

test('pages this dump wrote here are not hashed again at restore unless --verify-images; either way the counter goes on', async (t) => {
  const dir = tmpDir('cryo-e2e-images-trusted', t);
  const c = await startCounter(dir, t, 24);
  const before = await c.report();
  const img = join(dir, 'img');
  await dumpOk(c.target.pid, img);
  await waitDumpedGone(c.target);
  const pid = c.target.pid;
  const trustedLine = /pages-1\.img: written by the dump on this boot and unchanged since/;
  for (const extra of [[], ['--verify-images']]) {
    rmSync(join(img, 'restore.log'), { force: true });
    await restoreDetached(img, extra);
    killAtEnd(t, pid, 'counter');
    const log = readFileSync(join(img, 'restore.log'), 'utf8');
    if (extra.length) assert.doesNotMatch(log, trustedLine);
    else assert.match(log, trustedLine);
    await c.assertAdvancing(Number(before['count']), before['token']!);
    process.kill(pid, 'SIGKILL');
    await waitDead(pid);
    const deadline = Date.now() + 10_000;
    while (!pidFree(pid) && Date.now() < deadline) await sleep(50); // reaped by pid 1 (restore -d)
  }
});

test('a truncated core image: restore exits 3 naming it, and creates no process', async (t) => {
  await assertRefused(t, (img, pid) => {
    const name = `core-${pid}.img`;
    const path = join(img, name);
    truncateSync(path, readFileSync(path).length - 7);
    return name;
  });
});

test('a missing mm image: restore exits 3 naming it, and creates no process', async (t) => {
  await assertRefused(t, (img, pid) => {
    const name = `mm-${pid}.img`;
    rmSync(join(img, name));
    return name;
  });
});

test('the undamaged images restore (the checks above refuse only the damage)', async (t) => {
  const { img, target } = dumpedCounter();
  killAtEnd(t, target.pid, target.comm);
  await restoreDetached(img);
  assertUntouched(target.pid, 'restored counter');
});
