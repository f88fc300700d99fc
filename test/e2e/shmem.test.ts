// Shared memory objects (MAP_SHARED|MAP_ANONYMOUS, memfds) are dumped from the object itself, once:
// pages that only an exited process touched survive, a memfd that is both mapped and open is one
// inode again, and a real PostgreSQL server (shared buffers, background workers) answers with its
// data after a restore.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildTarget, parseReport, requestReport, startTarget } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { assertUntouched, dumpOk, killAtEnd, restoreDetached, sleep, waitDead, waitDumpedGone } from './e2e.ts';

test('shared anonymous memory written only by a process that has exited comes back with its pages (they are in no page table of the tree)', async (t) => {
  const dir = tmpDir('cryo-e2e-shmem-exited', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('shmem_exited'), log], { t });
  const img = join(dir, 'img');
  // No report before the dump: reading the pages would map them into the parent.
  await dumpOk(target.pid, img);
  await waitDumpedGone(target);
  assert.ok(readdirSync(img).some((f) => /^pagemap-shmem-\d+\.img$/.test(f)), readdirSync(img).join(' '));
  await restoreDetached(img);
  assert.equal(parseReport(await requestReport(target.pid, log))['pattern'], 'ok');
});

/** `inode` of the memfd "shared" as `pid` maps it. */
function mappedMemfdInode(pid: number): number | undefined {
  const line = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').find((l) => l.includes('/memfd:shared'));
  return line === undefined ? undefined : Number(line.split(/\s+/)[4]);
}

test('a memfd mapped by a parent and its child and open as an fd is one inode again after restore: the child\'s increments and the fd\'s writes are seen through the mapping', async (t) => {
  const dir = tmpDir('cryo-e2e-memfd-map', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('unlink_mmap'), log, dir, 'memfd'], { t });
  const { child, fd } = parseReport(target.output());
  killAtEnd(t, Number(child), 'unlink_mmap');
  const report = async (): Promise<Record<string, string>> => parseReport(await requestReport(target.pid, log));
  const before = await report();
  assert.equal(before['fd_map'], 'ok');
  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  await restoreDetached(join(dir, 'img'));
  assertUntouched(target.pid);
  const a = await report();
  assert.deepEqual([a['sum'], a['fd_map'], a['private']], ['ok', 'ok', 'ok'], JSON.stringify(a));
  await sleep(100);
  const b = await report();
  assert.ok(Number(b['counter']) > Number(a['counter']) + 5, `the parent sees the child's increments (${a['counter']} -> ${b['counter']})`);
  const ino = statSync(`/proc/${target.pid}/fd/${fd}`).ino;
  assert.equal(mappedMemfdInode(target.pid), ino, 'the parent maps the memfd its fd has open');
  assert.equal(mappedMemfdInode(Number(child)), ino, 'and so does the child');
});

/** Debian's PostgreSQL binaries, whichever version is installed (.ci/run installs it). */
const PG_BIN = (existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : []).map((v) => `/usr/lib/postgresql/${v}/bin`).find((d) => existsSync(join(d, 'postgres'))) ?? '/usr/lib/postgresql/15/bin';
const pgSkip = existsSync(join(PG_BIN, 'postgres')) && spawnSync('id', ['postgres']).status === 0 ? false : 'PostgreSQL (Debian) is not installed';

test('PostgreSQL: a server with its background processes is dumped and restored; the table written before is there and new connections work', { skip: pgSkip }, async (t) => {
  const dir = tmpDir('cryo-e2e-postgres', t);
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
  chownSync(dir, uid, -1);
  const data = join(dir, 'data');
  const shmBefore = new Set(readdirSync('/dev/shm'));
  const asPostgres = (cmd: string, args: string[]): string => execFileSync('setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', cmd, ...args], { encoding: 'utf8', cwd: dir });
  asPostgres(join(PG_BIN, 'initdb'), ['-D', data, '-A', 'trust', '--no-sync']);
  const port = String(20000 + (process.pid % 10000));
  const server = await startTarget(['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', join(PG_BIN, 'postgres'), '-D', data, '-p', port, '-k', dir, '-c', 'listen_addresses=', '-c', 'fsync=off'], {
    t,
    readyLine: /database system is ready to accept connections/,
    readyTimeoutMs: 30_000,
  });
  const psql = (sql: string): string => execFileSync('psql', ['-h', dir, '-p', port, '-U', 'postgres', '-tAc', sql], { encoding: 'utf8' }).trim();
  psql('create table t(x int); insert into t select generate_series(1, 5000)');
  const postmaster = server.pid;
  const workers = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim().split(/\s+/).map(Number);
  assert.ok(workers.length >= 3, `background processes: ${workers.join(' ')}`);
  for (const w of workers) killAtEnd(t, w, 'postgres');
  const img = join(dir, 'img');
  await dumpOk(postmaster, img);
  await waitDumpedGone(server);
  for (const w of workers) await waitDead(w);
  await restoreDetached(img);
  assertUntouched(postmaster, 'the restored postmaster');
  // Killed, the server leaves its shared memory behind (System V segment, /dev/shm segments).
  const sysvKeys = [...new Set([...readFileSync(`/proc/${postmaster}/maps`, 'utf8').matchAll(/\/SYSV([0-9a-f]{8})/g)].map((m) => `0x${m[1]}`))];
  t.after(async () => {
    for (const pid of [postmaster, ...workers]) await waitDead(pid).catch(() => undefined);
    for (const key of sysvKeys) spawnSync('ipcrm', ['-M', key]);
    for (const name of readdirSync('/dev/shm')) if (name.startsWith('PostgreSQL.') && !shmBefore.has(name)) rmSync(join('/dev/shm', name), { force: true });
  });
  assert.equal(psql('select count(*), sum(x) from t'), '5000|12502500');
  psql('insert into t values (42)');
  assert.equal(psql('select count(*) from t'), '5001');
});
