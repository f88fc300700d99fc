// cgroup membership: a process dumped in its own cgroups (a v1 memory cgroup, a cgroup v2 one)
// is restored into them, made again when they are gone (CRIU's default --manage-cgroups soft);
// --manage-cgroups=ignore leaves it in cryo's.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readCgroups } from '../../engine/proc/index.ts';
import { runCryo } from '../helpers/cryo.ts';
import { startCounter, waitDead, waitDumpedGone, dumpOk, restoreDetached } from './e2e.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** Whether cgroups can be made under `root` here (not in a container with /sys/fs/cgroup read-only). */
function writable(root: string): boolean {
  const probe = join(root, `cryo-probe-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** The hierarchies this machine has mounted at /sys/fs/cgroup, writable: v1 memory, and cgroup v2. */
const HIERARCHIES = [
  { name: 'memory', root: '/sys/fs/cgroup/memory' },
  { name: '', root: existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup' },
].filter((h) => existsSync(join(h.root, 'cgroup.procs')) && readCgroups(process.pid).some((c) => c.controllers.join(',') === h.name) && writable(h.root));

const cgroupsSkip = HIERARCHIES.length === 0 ? 'no writable v1 memory or cgroup v2 hierarchy under /sys/fs/cgroup' : false;

function pathIn(pid: number, name: string): string | undefined {
  return readCgroups(pid).find((c) => c.controllers.join(',') === name)?.path;
}

/** Kills `pid` (thawing its cgroup first with `thaw`), waits for it, and removes the cgroups `dirs`. */
async function killAndRemove(pid: number, dirs: readonly string[], thaw?: () => void): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  thaw?.();
  await waitDead(pid).catch(() => undefined);
  for (const d of dirs) if (existsSync(d)) rmdirSync(d);
}

test('a process in cgroups of its own is restored into them, made again when gone; --manage-cgroups=ignore leaves it in cryo\'s', { skip: cgroupsSkip }, async (t) => {
  const dir = tmpDir('cryo-e2e-cgroups', t);
  const name = `cryo-test-${process.pid}`;
  const dirs = HIERARCHIES.map((h) => join(h.root, name));
  const c = await startCounter(dir, t, 4);
  const pid = c.target.pid;
  t.after(() => killAndRemove(pid, dirs));
  for (const d of dirs) {
    mkdirSync(d);
    writeFileSync(join(d, 'cgroup.procs'), `${pid}\n`);
  }
  for (const h of HIERARCHIES) assert.equal(pathIn(pid, h.name), `/${name}`);
  const before = await c.report();
  const img = join(dir, 'img');
  await dumpOk(pid, img);
  await waitDumpedGone(c.target);
  for (const d of dirs) rmdirSync(d);
  await restoreDetached(img);
  for (const h of HIERARCHIES) assert.equal(pathIn(pid, h.name), `/${name}`, `back in ${h.name || 'cgroup2'}:/${name}, made again`);
  await c.assertAdvancing(Number(before['count']), before['token']!);

  process.kill(pid, 'SIGKILL');
  await waitDead(pid);
  const ignored = await runCryo(['restore', '-D', img, '-d', '--manage-cgroups=ignore']);
  assert.equal(ignored.code, 0, ignored.stderr);
  for (const h of HIERARCHIES) assert.equal(pathIn(pid, h.name), pathIn(process.pid, h.name), `left in cryo's ${h.name || 'cgroup2'} cgroup`);
  const bad = await runCryo(['restore', '-D', img, '-d', '--manage-cgroups=strict']);
  assert.equal(bad.code, 2, bad.stderr);
});

/** A freezer this machine has: the v1 freezer hierarchy, or cgroup v2's cgroup.freeze. */
const FREEZER = [
  { root: '/sys/fs/cgroup/freezer', name: 'freezer', file: 'freezer.state', frozen: 'FROZEN', thawed: 'THAWED' },
  { root: existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup', name: '', file: 'cgroup.freeze', frozen: '1', thawed: '0' },
].find((f) => existsSync(join(f.root, 'cgroup.procs')) && readCgroups(process.pid).some((c) => c.controllers.join(',') === f.name) && writable(f.root));

test('a process dumped in a cgroup that is frozen at restore is left where it is, with a warning, instead of freezing in the middle of its restore', { skip: FREEZER ? false : 'no writable freezer (v1) or cgroup v2 hierarchy' }, async (t) => {
  const f = FREEZER!;
  const dir = tmpDir('cryo-e2e-cgroup-frozen', t);
  const cg = join(f.root, `cryo-frozen-${process.pid}`);
  const c = await startCounter(dir, t, 4);
  const pid = c.target.pid;
  t.after(() => killAndRemove(pid, [cg], () => existsSync(cg) && writeFileSync(join(cg, f.file), f.thawed)));
  mkdirSync(cg);
  writeFileSync(join(cg, 'cgroup.procs'), `${pid}\n`);
  const before = await c.report();
  const img = join(dir, 'img');
  await dumpOk(pid, img);
  await waitDumpedGone(c.target);
  writeFileSync(join(cg, f.file), f.frozen);
  const r = await runCryo(['restore', '-D', img, '-d'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`cgroup ${cg} is frozen: the process is left where it is`));
  assert.equal(pathIn(pid, f.name), pathIn(process.pid, f.name), 'in cryo\'s cgroup');
  await c.assertAdvancing(Number(before['count']), before['token']!);
});
