// IPv4/IPv6 sockets: listeners and UDP sockets keep their ports and options and keep serving;
// with --tcp-established, connections keep their queued bytes and go on (a loopback pair inside
// the task, and a connection to a server in this test process, through kill + restore); without
// it the dump is refused. crit decodes the socket images.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { runCryo } from '../helpers/cryo.ts';
import { buildTarget, parseReport, requestReport, startTarget, waitForFileLine, fileSize } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { PYTHON, assertUntouched, dumpOk, restoreDetached, sleep, waitDumpedGone } from './e2e.ts';

const CRIT = '/usr/bin/crit';
const critSkip = !existsSync(CRIT) && process.env['CI'] !== 'true';

function crit(file: string): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(CRIT, ['decode', '-i', file], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`crit decode ${file}: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

const nftTable = (pid: number): string[] => ['inet', `CRIU-${pid}`];
const nftHasTable = (pid: number): boolean => spawnSync('nft', ['list', 'table', ...nftTable(pid)], { stdio: 'ignore' }).status === 0;
/** A lock left behind by a failing test must not outlive it. */
function dropLockAtEnd(t: TestContext, pid: number): void {
  t.after(() => {
    if (nftHasTable(pid)) spawnSync('nft', ['delete', 'table', ...nftTable(pid)], { stdio: 'ignore' });
  });
}

/** Sends SIGUSR2 and returns the next line the target appends to `log`. */
async function requestCheck(pid: number, log: string): Promise<Record<string, string>> {
  const since = fileSize(log);
  process.kill(pid, 'SIGUSR2');
  return parseReport(await waitForFileLine(log, () => true, 5000, { since }));
}

/** Connects, sends `msg`, returns everything the server answered before closing. */
function tcpAsk(host: string, port: number, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = connect({ host, port }, () => s.write(msg));
    s.setEncoding('utf8').on('data', (d: string) => (got += d));
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error(`no answer from ${host}:${port}`)));
  });
}

function udpAsk(port: number, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no UDP answer from port ${port}`));
    }, 5000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m.toString());
    });
    s.send(msg, port, '127.0.0.1');
  });
}

async function startInet(t: TestContext, dir: string, ...mode: string[]): Promise<{ pid: number; log: string; target: Awaited<ReturnType<typeof startTarget>> }> {
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('inet_sockets'), log, ...mode], { t });
  return { pid: target.pid, log, target };
}

test('TCP listeners (v4, v6, v6-only, any, loopback) and UDP sockets (bound, connected) keep their ports and options and serve', async (t) => {
  const dir = tmpDir('cryo-inet-listen', t);
  const { pid, log, target } = await startInet(t, dir);
  const before = parseReport(await requestReport(pid, log));
  assert.equal(before.udp_pair, 'ok');
  const img = join(dir, 'img');
  await dumpOk(pid, img);
  await waitDumpedGone(target);
  await restoreDetached(img);
  const after = parseReport(await requestReport(pid, log));
  assert.deepEqual(after, before, 'ports, options and the connected UDP pair are as before');
  assert.equal(after.l4_reuseaddr, '1');
  assert.equal(after.l4any_reuseport, '1');
  assert.equal(after.l6_v6only, '1');
  assert.equal(after.l6dual_v6only, '0');
  // New connections on the same ports, each family the way it was bound.
  assert.equal(await tcpAsk('127.0.0.1', Number(after.l4), 'a'), 'echo:a\n');
  assert.equal(await tcpAsk('127.0.0.1', Number(after.l4any), 'b'), 'echo:b\n');
  assert.equal(await tcpAsk('::1', Number(after.l6), 'c'), 'echo:c\n');
  assert.equal(await tcpAsk('127.0.0.1', Number(after.l6dual), 'd'), 'echo:d\n', 'the dual-stack listener takes IPv4');
  await assert.rejects(tcpAsk('127.0.0.1', Number(after.l6), 'e'), 'the v6-only listener refuses IPv4');
  assert.equal(await udpAsk(Number(after.u1), 'x'), 'udp:x');

  if (!critSkip) {
    const files = await crit(join(img, 'files.img'));
    const isk = files.entries.filter((e: any) => e.type === 'INETSK').map((e: any) => e.isk);
    assert.equal(isk.length, 6, JSON.stringify(files.entries));
    const l4 = isk.find((e: any) => e.src_port === Number(before.l4));
    // AF_INET, SOCK_STREAM, IPPROTO_TCP, TCP_LISTEN; 127.0.0.1 as the kernel's u32.
    assert.deepEqual([l4.family, l4.type, l4.proto, l4.state, l4.src_addr], [2, 1, 6, 10, [0x0100007f]]);
    assert.equal(l4.backlog, 16);
    assert.equal(l4.opts.reuseaddr, true);
    const u2 = isk.find((e: any) => e.src_port === Number(before.u2));
    assert.deepEqual([u2.proto, u2.state, u2.dst_port], [17, 1, Number(before.u1)], 'UDP, connected');
    const inv = await crit(join(img, 'inventory.img'));
    assert.ok('network_lock_method' in inv.entries[0]);
  }
});

test('an established loopback pair: refused without --tcp-established (task untouched); with it, queued bytes and new data flow', async (t) => {
  const dir = tmpDir('cryo-inet-est', t);
  const { pid, log, target } = await startInet(t, dir, 'est');
  dropLockAtEnd(t, pid);
  const before = parseReport(await requestReport(pid, log));
  assert.deepEqual([before.a_inq, before.c_inq], ['10', '10']);

  const refused = await runCryo(['dump', '-t', String(pid), '-D', join(dir, 'refused')]);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /Connected TCP socket, consider using --tcp-established option\./);
  assertUntouched(pid);
  assert.equal(nftHasTable(pid), false, 'a refused dump leaves no network lock');
  const still = parseReport(await requestReport(pid, log));
  assert.deepEqual([still.a_inq, still.c_inq], ['10', '10'], 'the queues are untouched');

  const img = join(dir, 'img');
  await dumpOk(pid, img, ['--tcp-established']);
  await waitDumpedGone(target);
  assert.ok(nftHasTable(pid), 'the connections stay locked until the restore');
  const streams = readdirSync(img).filter((f) => /^tcp-stream-[0-9a-f]+\.img$/.test(f));
  assert.equal(streams.length, 2, readdirSync(img).join(' '));
  if (!critSkip) {
    for (const s of streams) {
      const d = await crit(join(img, s));
      assert.equal(d.magic, 'TCP_STREAM');
      assert.equal(d.entries[0].inq_len, 10);
    }
    const inv = await crit(join(img, 'inventory.img'));
    assert.equal(inv.entries[0].network_lock_method, 1, 'nftables');
  }

  // Like CRIU, the restore wants the flag too; a refused restore keeps the lock.
  const noFlag = await runCryo(['restore', '-d', '-D', img]);
  assert.notEqual(noFlag.code, 0);
  assert.match(noFlag.stderr, /--tcp-established/);
  assert.ok(nftHasTable(pid));

  await restoreDetached(img, ['--tcp-established']);
  assert.equal(nftHasTable(pid), false, 'the restore unlocks the network');
  const after = parseReport(await requestReport(pid, log));
  assert.deepEqual([after.a_inq, after.c_inq, after.udp_pair], ['10', '10', 'ok']);
  const check = await requestCheck(pid, log);
  assert.deepEqual(check, { a_got: 'c2a-queued', c_got: 'a2c-queued', exchange: 'ok' });
  assert.equal(await tcpAsk('127.0.0.1', Number(after.l4), 'z'), 'echo:z\n', 'the listener next to its accepted connection');
});

test('a failed --tcp-established dump switches repair mode off, unlocks and fires network-lock/unlock', async (t) => {
  const dir = tmpDir('cryo-inet-fail', t);
  const { pid, log } = await startInet(t, dir, 'est');
  dropLockAtEnd(t, pid);
  const actions = join(dir, 'actions.log');
  const script = join(dir, 'script.sh');
  writeFileSync(script, `#!/bin/sh\necho "$CRTOOLS_SCRIPT_ACTION" >> ${actions}\n`);
  chmodSync(script, 0o755);
  const r = await runCryo(['dump', '-t', String(pid), '-D', join(dir, 'img'), '--tcp-established', '--action-script', script], { env: { CRYO_FAIL_AT: 'memory' } });
  assert.notEqual(r.code, 0);
  assertUntouched(pid);
  assert.equal(nftHasTable(pid), false);
  assert.deepEqual(readFileSync(actions, 'utf8').trim().split('\n'), ['pre-dump', 'network-lock', 'network-unlock']);
  const check = await requestCheck(pid, log);
  assert.deepEqual(check, { a_got: 'c2a-queued', c_got: 'a2c-queued', exchange: 'ok' });
});

test('a connection to a server outside the tree: --leave-running goes on; kill + restore reattaches it', async (t) => {
  const dir = tmpDir('cryo-inet-peer', t);
  let conn: Socket | undefined;
  let got = '';
  let closed = '';
  const server = createServer((s) => {
    conn = s;
    s.setEncoding('utf8').on('data', (d: string) => (got += d));
    s.on('error', (e) => (closed = `error ${e.message}`));
    s.on('end', () => (closed = 'end'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    conn?.destroy();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const { pid, log, target } = await startInet(t, dir, 'peer', String(port));
  dropLockAtEnd(t, pid);
  for (let i = 0; i < 100 && !conn; i++) await sleep(10);
  assert.ok(conn, 'the target connected');
  const expectEcho = async (what: string): Promise<void> => {
    for (let i = 0; i < 300 && !got.includes(`echo:${what}\n`); i++) await sleep(10);
    assert.ok(got.includes(`echo:${what}\n`), `server got ${JSON.stringify(got)}`);
  };
  const queued = async (n: number): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      if (Number(parseReport(await requestReport(pid, log)).p_inq) === n) return;
      await sleep(20);
    }
    assert.fail(`the target never had ${n} bytes queued`);
  };

  conn!.write('q1');
  await queued(2);
  await dumpOk(pid, join(dir, 'img1'), ['--tcp-established', '--leave-running']);
  assertUntouched(pid);
  assert.equal(nftHasTable(pid), false, '--leave-running unlocks');
  assert.deepEqual(await requestCheck(pid, log), { p_got: 'q1', p_write: 'ok' });
  await expectEcho('q1');

  conn!.write('q2');
  await queued(2);
  const img = join(dir, 'img2');
  await dumpOk(pid, img, ['--tcp-established']);
  await waitDumpedGone(target);
  assert.ok(nftHasTable(pid));
  await sleep(100);
  assert.equal(closed, '', 'the server saw no FIN or reset while the task was gone');
  await restoreDetached(img, ['--tcp-established']);
  assert.equal(nftHasTable(pid), false);
  assert.deepEqual(await requestCheck(pid, log), { p_got: 'q2', p_write: 'ok' });
  await expectEcho('q2');
  conn!.write('q3');
  await queued(2);
  assert.deepEqual(await requestCheck(pid, log), { p_got: 'q3', p_write: 'ok' });
  await expectEcho('q3');
  assert.equal(closed, '');
});

// An echo server that serves any number of clients and logs each connection it loses.
const ECHO_SERVER = `
import selectors, socket, sys
log = open(sys.argv[1], 'a', buffering=1)
sel = selectors.DefaultSelector()
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', 0)); srv.listen(8); srv.setblocking(False)
sel.register(srv, selectors.EVENT_READ)
print('port', srv.getsockname()[1], flush=True)
print('ready', flush=True)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if s is srv:
            c, _ = srv.accept(); c.setblocking(False); sel.register(c, selectors.EVENT_READ)
            continue
        try:
            data = s.recv(100)
        except OSError as e:
            data = b''
            log.write(f'lost {e.errno}\\n')
        if not data:
            log.write('closed\\n'); sel.unregister(s); s.close()
        else:
            s.sendall(b'echo:' + data)
`;

/** Connects to 127.0.0.1:`port`, sends `what` and resolves with what comes back first. */
function echoOnce(port: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1', () => c.write(what));
    c.setEncoding('utf8').once('data', (d: string) => {
      c.destroy();
      resolve(d);
    });
    c.once('error', reject);
  });
}

test('--tcp-close: a server holding a client\'s connection is dumped without repair or lock; the restore needs --tcp-close, the connection comes back closed, the server drops it and serves new clients', async (t) => {
  const dir = tmpDir('cryo-inet-tcp-close', t);
  const log = join(dir, 'server.log');
  const target = await startTarget([PYTHON, '-c', ECHO_SERVER, log], { t });
  const port = Number(/^port (\d+)$/m.exec(target.output())![1]);
  const client = connect(port, '127.0.0.1');
  t.after(() => client.destroy());
  let clientSaw = '';
  client.setEncoding('utf8').on('data', (d: string) => (clientSaw += d));
  const clientEnded = new Promise<void>((r) => {
    client.on('close', () => r());
  });
  client.on('error', () => undefined);
  client.write('one');
  for (let i = 0; i < 200 && clientSaw !== 'echo:one'; i++) await sleep(10);
  assert.equal(clientSaw, 'echo:one');
  const img = join(dir, 'img');
  const both = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'both'), '--tcp-established', '--tcp-close']);
  assert.equal(both.code, 2, both.stderr);
  assertUntouched(target.pid);
  await dumpOk(target.pid, img, ['--tcp-close']);
  await waitDumpedGone(target);
  assert.equal(nftHasTable(target.pid), false, 'no network lock');
  await clientEnded; // the killed server's connection closed (nothing held it in repair mode)
  const plain = await runCryo(['restore', '-D', img, '-d']);
  assert.equal(plain.code, 4, plain.stderr);
  assert.match(plain.stderr, /dumped with --tcp-close[\s\S]*hint: restore with --tcp-close/);
  await restoreDetached(img, ['--tcp-close']);
  assertUntouched(target.pid, 'the restored server');
  await waitForFileLine(log, (l) => l === 'closed', 5000);
  assert.equal(await echoOnce(port, 'two'), 'echo:two', 'the restored server serves a new client');
});

// A server that accepts only once the file `go` exists (until then, clients wait in its accept queue).
const LAZY_SERVER = `
import os, socket, sys, time
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(8)
print('port', srv.getsockname()[1], flush=True)
print('ready', flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
while True:
    c, _ = srv.accept()
    c.sendall(b'echo:' + c.recv(100))
    c.close()
`;

test('a TCP listener with a connection not accepted yet: refused (task untouched) unless --skip-in-flight, which leaves it out; the restored listener serves new clients', async (t) => {
  const dir = tmpDir('cryo-inet-in-flight', t);
  const go = join(dir, 'go');
  const target = await startTarget([PYTHON, '-c', LAZY_SERVER, go], { t });
  const port = Number(/^port (\d+)$/m.exec(target.output())![1]);
  const waiting = connect(port, '127.0.0.1');
  waiting.on('error', () => undefined);
  t.after(() => waiting.destroy());
  await new Promise<void>((r) => waiting.once('connect', () => r()));
  const refused = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'refused')]);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /1 connection\(s\) wait in the accept queue/);
  assert.match(refused.stderr, /hint: .*--skip-in-flight/);
  assertUntouched(target.pid);
  const img = join(dir, 'img');
  await dumpOk(target.pid, img, ['--skip-in-flight']);
  assert.match(readFileSync(join(img, 'dump.log'), 'utf8'), /1 connection\(s\) wait in the accept queue: left out \(--skip-in-flight\)/);
  await waitDumpedGone(target);
  await restoreDetached(img);
  writeFileSync(go, '');
  assert.equal(await echoOnce(port, 'new'), 'echo:new');
});

test('--network-lock skip: established connections are saved and restored without cryo locking the network (left to the user, as CRIU); the inventory says so', async (t) => {
  const dir = tmpDir('cryo-inet-lock-skip', t);
  const { pid, log, target } = await startInet(t, dir, 'est');
  dropLockAtEnd(t, pid);
  const bad = await runCryo(['dump', '-t', String(pid), '-D', join(dir, 'bad'), '--tcp-established', '--network-lock', 'pf']);
  assert.equal(bad.code, 2, bad.stderr);
  assertUntouched(pid);
  const img = join(dir, 'img');
  await dumpOk(pid, img, ['--tcp-established', '--network-lock', 'skip']);
  await waitDumpedGone(target);
  assert.equal(nftHasTable(pid), false, 'cryo locked nothing');
  if (!critSkip) assert.equal((await crit(join(img, 'inventory.img'))).entries[0].network_lock_method, 2, 'skip');
  await restoreDetached(img, ['--tcp-established']);
  const after = parseReport(await requestReport(pid, log));
  assert.deepEqual([after.a_inq, after.c_inq], ['10', '10']);
  assert.deepEqual(await requestCheck(pid, log), { a_got: 'c2a-queued', c_got: 'a2c-queued', exchange: 'ok' });
});
