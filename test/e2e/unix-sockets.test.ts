// Unix sockets: pairs of every type, a listener with an accepted connection, path, abstract and
// relative names, one-way datagrams, shut-down halves, options and queued data survive a dump
// and restore; a peer outside the tree and a connection not accepted yet are refused.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCryo } from '../helpers/cryo.ts';
import { buildTarget, fileSize, parseReport, requestReport, startTarget, waitForFileLine } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { PYTHON, assertUntouched, dumpOk, restoreDetached, waitDumpedGone } from './e2e.ts';

const CRIT = '/usr/bin/crit';
const critSkip = !existsSync(CRIT) && process.env['CI'] !== 'true' ? `${CRIT} not installed (apt-get install criu)` : false;

function critDecode(file: string): Promise<{ magic: string; entries: Record<string, any>[] }> {
  return new Promise((resolve, reject) => {
    execFile(CRIT, ['decode', '-i', file], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`crit decode ${file}: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout) as { magic: string; entries: Record<string, any>[] });
    });
  });
}

/** Connects to `path`, sends `line`, then runs `kick`; resolves with what the server answers. */
function talk(path: string, line: string, kick: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const c = createConnection(path, () => {
      c.write(`${line}\n`);
      kick();
    });
    c.setEncoding('utf8');
    c.on('data', (d: string) => (got += d));
    c.on('end', () => resolve(got));
    c.on('error', reject);
    setTimeout(() => {
      c.destroy();
      resolve(got);
    }, 8000).unref();
  });
}

const QUEUED = {
  ss0_q: 'stream-b2a',
  ss1_q: 'stream-a2b-1stream-a2b-2',
  ds0_q: 'r1',
  ds1_q: 'd1|dd2|ddd3',
  qs0_q: 'sr',
  qs1_q: 's1|ss2',
  cli_q: 'hello-from-server',
  srv_q: 'hello-from-client',
  abs_q: 'abstract-msg',
  dgb_q: 'to-b-1|to-b-2',
  dgc_q: '-',
  rel_q: 'rel-msg',
  sh1_q: 'last-words',
  or0_q: 'orphan-data',
  dl_q: '-',
};

test('unix sockets: pairs, listener + accepted connection, names, options, queues and shut-down halves survive', async (t) => {
  const dir = tmpDir('cryo-unix', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('unix_sockets'), log, dir], { t });
  const before = parseReport(await requestReport(target.pid, log));
  assert.equal(before['lst']?.split('/')[9], '1', `the listener listens (SO_ACCEPTCONN): ${before['lst']}`);
  assert.match(before['srv'] ?? '', /\/listen\.sock\/-$/, 'the accepted end carries the listener name');

  const img = join(dir, 'img');
  await dumpOk(target.pid, img);
  await waitDumpedGone(target);
  await restoreDetached(img);

  // The same fds, with the same type, flags, options, names, peers and queue lengths.
  const after = parseReport(await requestReport(target.pid, log));
  assert.deepEqual(after, before);

  // A new client connects by path; then every queue is read, new data flows, halves stay shut.
  const since = fileSize(log);
  const answer = await talk(join(dir, 'listen.sock'), 'after-restore', () => process.kill(target.pid, 'SIGUSR2'));
  const r = parseReport(await waitForFileLine(log, (l) => l.includes('accepted='), 10_000, { since }));
  for (const [k, v] of Object.entries(QUEUED)) assert.equal(r[k], v, `${k}: data queued before the dump, in order`);
  for (const k of ['flow_ss', 'flow_ds', 'flow_qs', 'flow_conn', 'flow_dg']) assert.equal(r[k], 'ok', `${k}: new data both ways`);
  assert.equal(r['sh1_eof'], '1', 'the peer of a SHUT_WR end reads EOF after the data');
  assert.equal(r['sh0_epipe'], '1', 'a SHUT_WR end can no longer write');
  assert.equal(r['sr1_epipe'], '1', 'the peer of a SHUT_RD end gets EPIPE');
  assert.equal(r['sr0_eof'], '1', 'a SHUT_RD end reads EOF');
  assert.equal(r['or0_eof'], '1', 'the end whose peer was closed reads its data, then EOF');
  assert.ok(!existsSync(join(dir, 'deleted.sock')), 'the unlinked socket file is unlinked again');
  assert.match(after['dl'] ?? '', /\/deleted\.sock\/none$/, 'the unlinked socket keeps its name');
  assert.equal(r['accepted'], 'after-restore', 'the listener accepts a new client');
  assert.equal(answer, 'pong:after-restore\n');
});

test('unix socket images: crit decodes files.img (UNIXSK) and sk-queues.img with the queued bytes', { skip: critSkip }, async (t) => {
  const dir = tmpDir('cryo-unix-crit', t);
  const target = await startTarget([buildTarget('unix_sockets'), join(dir, 'report.log'), dir], { t });
  const img = join(dir, 'img');
  await dumpOk(target.pid, img, ['--leave-running']);
  const files = await critDecode(join(img, 'files.img'));
  const usk = files.entries.filter((e) => e['type'] === 'UNIXSK').map((e) => e['usk']);
  assert.equal(usk.length, 19, 'one UNIXSK entry per socket');
  const byIno = new Map(usk.map((u) => [u.ino, u]));
  for (const u of usk) if (u.peer) assert.ok(byIno.has(u.peer), `peer ${u.peer} of ${u.ino} is dumped`);
  // crit prints names with its unix_name conversion: bytes outside ASCII as =XX (the path's NUL too).
  assert.ok(usk.some((u) => u.state === 10 && u.backlog === 7 && u.name === `${dir}/listen.sock=00`), 'the listener');
  const q = await critDecode(join(img, 'sk-queues.img'));
  assert.equal(q.magic, 'SK_QUEUES');
  const payloads = q.entries.map((e) => Buffer.from(e['extra'] as string, 'base64').toString());
  for (const e of q.entries) assert.equal(Buffer.from(e['extra'] as string, 'base64').length, e['length']);
  for (const want of ['stream-a2b-1stream-a2b-2', 'd1', 'dd2', 'ddd3', 'hello-from-client', 'abstract-msg', 'last-words']) {
    assert.ok(payloads.includes(want), `${want} is in sk-queues.img (have ${payloads.join(', ')})`);
  }
  // --leave-running: peeking consumed nothing.
  const since = fileSize(join(dir, 'report.log'));
  await talk(join(dir, 'listen.sock'), 'x', () => process.kill(target.pid, 'SIGUSR2'));
  const r = parseReport(await waitForFileLine(join(dir, 'report.log'), (l) => l.includes('accepted='), 10_000, { since }));
  for (const [k, v] of Object.entries(QUEUED)) assert.equal(r[k], v, `${k} after a --leave-running dump`);
});

test('a unix socket connected to a server outside the tree fails the dump; the task keeps running', async (t) => {
  const dir = tmpDir('cryo-unix-ext', t);
  const path = join(dir, 'ext.sock');
  const got: string[] = [];
  const conns: Socket[] = [];
  const server = createServer((c) => {
    conns.push(c);
    c.on('data', (d) => got.push(String(d)));
  });
  await new Promise<void>((r) => server.listen(path, r));
  t.after(() => {
    for (const c of conns) c.destroy();
    server.close();
  });
  const target = await startTarget([buildTarget('unix_sockets'), join(dir, 'report.log'), dir, 'external', path], { t });
  const d = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'img')]);
  assert.equal(d.code, 4, `dump exit code (UnsupportedError): ${d.stderr}`);
  assert.match(d.stderr, /external unix socket/);
  assert.match(d.stderr, /ext\.sock/, 'names the peer');
  assert.match(d.stderr, /stream connection to a peer outside the tree can't be made again \(--ext-unix-sk, as in CRIU, covers datagram sockets only\)/);
  assertUntouched(target.pid);
  const x = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'img-x'), '--ext-unix-sk']);
  assert.equal(x.code, 4, `with --ext-unix-sk too: ${x.stderr}`);
  assertUntouched(target.pid);
  assert.deepEqual(got, ['hi\n']);
});

// A syslog-style logger: a datagram socket connected to a server outside the tree. The server
// (not dumped) keeps its name; the logger is dumped with --ext-unix-sk and restored connected to it.
const LOGGER = `
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(sys.argv[1])
print('ready', flush=True)
n = 0
while True:
    n += 1
    s.send(str(n).encode())
    time.sleep(0.02)
`;
const LOG_SERVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
log = open(sys.argv[2], 'a', buffering=1)
print('ready', flush=True)
while True:
    log.write(s.recv(100).decode() + '\\n')
`;

test('--ext-unix-sk: a datagram socket connected to a log server outside the tree is refused without it; with it the restored logger sends to the same server again', async (t) => {
  const dir = tmpDir('cryo-unix-ext-dgram', t);
  const sock = join(dir, 'log.sock');
  const received = join(dir, 'received');
  await startTarget([PYTHON, '-c', LOG_SERVER, sock, received], { t });
  const logger = await startTarget([PYTHON, '-c', LOGGER, sock], { t });
  await waitForFileLine(received, (l) => l === '3');
  const refused = await runCryo(['dump', '-t', String(logger.pid), '-D', join(dir, 'refused')]);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /log\.sock .*outside the dumped tree/);
  assert.match(refused.stderr, /hint: with --ext-unix-sk/);
  assertUntouched(logger.pid);
  const img = join(dir, 'img');
  await dumpOk(logger.pid, img, ['--ext-unix-sk']);
  await waitDumpedGone(logger);
  const last = Number(readFileSync(received, 'utf8').trim().split('\n').at(-1));
  const at = fileSize(received);
  await restoreDetached(img, ['-x']);
  await waitForFileLine(received, (l) => Number(l) >= last + 5, 5000, { since: at });
  if (!critSkip) {
    const files = await critDecode(join(img, 'files.img'));
    // USK_EXTERN (uflags 1): the server's entry, with its name; the logger's own entry points at it.
    const ext = files.entries.filter((f) => f.type === 'UNIXSK' && f.usk.uflags === 1);
    assert.equal(ext.length, 1, JSON.stringify(files.entries.filter((f) => f.type === 'UNIXSK')));
    assert.match(String(ext[0]!.usk.name), /\/log\.sock/);
    assert.ok(files.entries.some((f) => f.type === 'UNIXSK' && f.usk.peer === ext[0]!.usk.ino && f.usk.uflags === 0));
  }
});

test('a listener with a connection not accepted yet fails the dump; the task keeps running', async (t) => {
  const dir = tmpDir('cryo-unix-pending', t);
  const target = await startTarget([buildTarget('unix_sockets'), join(dir, 'report.log'), dir, 'pending'], { t });
  const d = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'img')]);
  assert.equal(d.code, 4, `dump exit code (UnsupportedError): ${d.stderr}`);
  assert.match(d.stderr, /pending\.sock \(ino \d+\) has 1 connection\(s\) not accepted yet/);
  assertUntouched(target.pid);
});
