// Kernel objects shared between the processes of a tree (zdtm: pipe03, socket_queues, fifo_wronly,
// eventfs00, epoll01, file_shared, a pre-fork TCP server): a 256 KiB pipe, a socketpair, a unix
// listener's connection, a FIFO, an eventfd, a timerfd, an epoll set, a TCP listener and a file
// offset, each used by two or three processes, come back shared, with every queued byte, and the
// workers keep serving.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { kcmpFile } from '../../native/index.ts';
import { critDecode, critSkip } from '../helpers/crit.ts';
import { buildTarget, fileSize, parseReport, startTarget, waitForFileLine } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { assertUntouched, dumpOk, killAtEnd, restoreDetached, sleep, waitDumpedGone } from './e2e.ts';

const PIPE_SIZE = 256 * 1024;

interface IpcTree {
  readonly log: string;
  readonly info: Record<string, string>;
  readonly fds: Record<string, string>;
  readonly pids: { R: number; W1: number; W2: number };
  readonly port: number;
}

/** One report round: R's and both workers' lines, by name. */
async function reportAll(tree: IpcTree): Promise<Map<string, Record<string, string>>> {
  const since = fileSize(tree.log);
  process.kill(tree.pids.R, 'SIGUSR1');
  const got = new Map<string, Record<string, string>>();
  await waitForFileLine(
    tree.log,
    (l) => {
      const r = parseReport(l);
      if (r['who']) got.set(r['who'], r);
      return got.size === 3;
    },
    5000,
    { since },
  );
  return got;
}

/** `name:bytes:sum,…` → { name: [bytes, sum] }. */
function drained(r: Record<string, string>): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const part of (r['drained'] ?? '').split(',')) {
    const [name, bytes, sum] = part.split(':');
    if (name) out[name] = [Number(bytes), Number(sum)];
  }
  return out;
}

/** Opens a TCP connection and resolves with the socket and the first line the server sends. */
function hello(port: number): Promise<{ sock: Socket; line: string }> {
  return new Promise((resolve, reject) => {
    let got = '';
    const sock = connect({ host: '127.0.0.1', port });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      if (got.includes('\n')) return;
      got += d;
      if (got.includes('\n')) resolve({ sock, line: got.slice(0, got.indexOf('\n')) });
    });
    sock.on('error', reject);
    sock.setTimeout(5000, () => sock.destroy(new Error(`no hello on port ${port}`)));
  });
}

/**
 * Each worker serves one connection at a time and holds it: two connections held together must
 * be served by the two workers, whatever order the kernel picks.
 */
async function assertBothWorkersAccept(tree: IpcTree, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const a = await hello(tree.port);
    const b = await hello(tree.port);
    const whos = [a.line, b.line].map((l) => parseReport(l)['who']).sort();
    assert.deepEqual(whos, ['W1', 'W2'], `round ${i}: connections served by ${a.line} / ${b.line}`);
    for (const { line } of [a, b]) {
      const r = parseReport(line);
      assert.equal(Number(r['pid']), tree.pids[r['who'] as 'W1'], `${r['who']}'s pid`);
    }
    // Half-close and wait for the worker's close: no connection is left in a worker for the dump.
    await Promise.all([a, b].map(({ sock }) => new Promise((resolve) => sock.on('close', resolve).end())));
  }
}

function unixHello(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const c = createConnection(path);
    c.setEncoding('utf8').on('data', (d: string) => (got += d));
    c.on('end', () => resolve(got));
    c.on('error', reject);
    c.setTimeout(5000, () => c.destroy(new Error(`no answer on ${path}`)));
  });
}

/** The same open file descriptions, one offset, one eventfd counter, in all three processes. */
function assertShared(tree: IpcTree, pos: number): void {
  const { R, W1, W2 } = tree.pids;
  for (const name of ['tcp_l', 'efd', 'tfd', 'shared']) {
    const fd = Number(tree.fds[name]);
    for (const w of [W1, W2]) assert.equal(kcmpFile(R, fd, w, fd), 0, `${name} (fd ${fd}) of ${w} is R's description`);
  }
  for (const p of [R, W1, W2]) {
    assert.match(readFileSync(`/proc/${p}/fdinfo/${tree.fds['shared']}`, 'utf8'), new RegExp(`^pos:\\s+${pos}$`, 'm'), `offset of the shared file in ${p}`);
    assert.match(readFileSync(`/proc/${p}/fdinfo/${tree.fds['efd']}`, 'utf8'), /^eventfd-count:\s+2a$/m, `eventfd counter in ${p}`);
  }
}

test('pipes, sockets, a FIFO, eventfd, timerfd, epoll, a TCP listener and a file offset shared by a tree survive a dump and restore', async (t) => {
  const dir = tmpDir('cryo-e2e-ipc-tree', t);
  const log = join(dir, 'ipc.log');
  const target = await startTarget([buildTarget('ipc_tree'), log], { t });
  const [infoLine, fdsLine] = target.output().split('\n');
  const info = parseReport(infoLine!);
  const pids = { R: target.pid, W1: Number(info['w1']), W2: Number(info['w2']) };
  for (const p of Object.values(pids)) killAtEnd(t, p, 'ipc_tree');
  const tree: IpcTree = { log, info, fds: parseReport(fdsLine!), pids, port: Number(info['port']) };
  assertShared(tree, 6);
  // (No report before the dump: it would drain the queues.)
  await assertBothWorkersAccept(tree, 1);

  const img = join(dir, 'img');
  await dumpOk(pids.R, img);
  await waitDumpedGone(target);
  await restoreDetached(img);
  for (const [name, pid] of Object.entries(pids)) assertUntouched(pid, name);
  assertShared(tree, 6);
  assert.equal(kcmpFile(pids.R, Number(tree.fds['efd']), pids.W1, Number(tree.fds['efd'])), 0);

  const after = await reportAll(tree);
  const want = (name: string): [number, number] => [Number(info[`${name}_q`]), Number(info[`${name}_sum`])];
  assert.deepEqual(drained(after.get('R')!), { sp: want('sp_r'), acc: want('acc') }, "R's end of the pair and its accepted connection");
  assert.deepEqual(drained(after.get('W1')!), { pipe: want('pipe'), cli: want('cli') }, "W1's pipe and client end");
  assert.deepEqual(drained(after.get('W2')!), { sp: want('sp_w'), fifo: want('fifo') }, "W2's end of the pair and the FIFO");
  assert.equal(Number(after.get('W1')!['pipe_size']), PIPE_SIZE, 'the pipe keeps its F_SETPIPE_SZ size');
  assert.equal(Number(after.get('R')!['efd']), 42, 'the eventfd counter');
  for (const [who, r] of after) assert.equal(Number(r['pid']), pids[who as 'R'], `${who}'s pid`);

  // One offset: the three appends follow each other, none overwrites another.
  const shared = readFileSync(`${log}.shared`, 'utf8');
  assert.deepEqual(shared.split('\n').filter(Boolean).sort(), ['R', 'W1', 'W2', 'start'], `the shared file: ${JSON.stringify(shared)}`);

  // Pre-fork serving: both workers accept on the one listener; R's unix listener answers too.
  await assertBothWorkersAccept(tree, 3);
  assert.equal(await unixHello(`${log}.sock`), 'hello-from-R\n');
  // W2's epoll set still sees its timerfd tick.
  await sleep(100);
  const later = await reportAll(tree);
  assert.ok(Number(later.get('W2')!['ticks']) > Number(after.get('W2')!['ticks']), `ticks ${after.get('W2')!['ticks']} -> ${later.get('W2')!['ticks']}`);
  assert.deepEqual(drained(later.get('W1')!), { pipe: [0, 0], cli: [0, 0] }, 'nothing was queued twice');

  if (critSkip) return;
  for (const f of ['files.img', 'pipes-data.img', 'fifo-data.img', 'sk-queues.img']) {
    const { entries } = await critDecode(join(img, f));
    assert.ok(entries.length > 0, `${f} has entries`);
  }
});
