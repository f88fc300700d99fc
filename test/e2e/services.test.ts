// Programs nobody here wrote, checkpointed while they work and restored: a shell pipeline
// (sh, a producer and a consumer joined by a pipe) keeps flowing with no line lost or repeated.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { readChildren, readStat } from '../../engine/proc/index.ts';
import { startTarget, waitForFileLine } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { PYTHON, assertUntouched, dumpOk, killAtEnd, restoreDetached, sleep, waitDumpedGone } from './e2e.ts';

const PRODUCER = `
import sys, time
i = 0
while True:
    i += 1
    sys.stdout.write(f'{i}\\n'); sys.stdout.flush()
    time.sleep(0.005)
`;
const CONSUMER = `
import sys
out = open(sys.argv[1], 'a', buffering=1)
first = True
for line in sys.stdin:
    out.write(line)
    if first:
        print('ready', flush=True)
        first = False
`;

function numbers(path: string): number[] {
  // The first number of every complete line.
  const text = readFileSync(path, 'utf8');
  return text.slice(0, text.lastIndexOf('\n')).split('\n').map((l) => Number(l.split(' ')[0]));
}

function assertConsecutive(ns: readonly number[]): void {
  for (let i = 0; i < ns.length; i++) assert.equal(ns[i], i + 1, `line ${i + 1} reads ${ns[i]} (lost or repeated lines)`);
}

test('a shell pipeline (producer | consumer) keeps flowing after restore, no line lost or repeated', async (t) => {
  const dir = tmpDir('cryo-e2e-pipeline', t);
  const out = join(dir, 'out.txt');
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = `${PYTHON} -u -c ${q(PRODUCER)} | ${PYTHON} -u -c ${q(CONSUMER)} ${q(out)}; exit 3`;
  const target = await startTarget(['/bin/sh', '-c', script], { t });
  const kids = readChildren(target.pid, target.pid);
  assert.equal(kids.length, 2, 'sh runs the producer and the consumer');
  for (const p of [target.pid, ...kids]) killAtEnd(t, p, readStat(p).comm);
  await waitForFileLine(out, (l) => Number(l) > 50);

  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  const atDump = numbers(out).length;
  await sleep(200);
  assert.equal(numbers(out).length, atDump, 'nothing runs between dump and restore');
  await restoreDetached(join(dir, 'img'));
  for (const p of [target.pid, ...kids]) assertUntouched(p, `${readStat(p).comm} ${p}`);
  assert.deepEqual(readChildren(target.pid, target.pid), kids, 'sh still has both as its children');

  await waitForFileLine(out, (l) => Number(l) > atDump + 100);
  assertConsecutive(numbers(out));
});

/** A TCP port nothing listens on right now. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** GET http://127.0.0.1:PORT/path, with a short timeout; the body. */
function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`GET :${port}${path} timed out`)));
    req.on('error', reject);
  });
}

async function until<T>(what: string, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(e as Error).message}`);
      await sleep(50);
    }
  }
}

function redisCli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5000 }).trim();
}

test('redis-server: keys written before the dump are read after restore, new ones written, same port', async (t) => {
  const dir = tmpDir('cryo-e2e-redis', t);
  const port = await freePort();
  const target = await startTarget(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '-::1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    t,
    ready: 'sleeping',
  });
  killAtEnd(t, target.pid, 'redis-server');
  await until('redis answers', async () => assert.equal(redisCli(port, 'ping'), 'PONG'));
  for (let i = 0; i < 100; i++) redisCli(port, 'set', `key:${i}`, `value-${i}`);
  redisCli(port, 'incrby', 'counter', '41');

  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  assert.throws(() => redisCli(port, 'ping'), 'nothing answers between dump and restore');
  await restoreDetached(join(dir, 'img'));
  assertUntouched(target.pid, 'restored redis-server');

  assert.equal(redisCli(port, 'get', 'key:0'), 'value-0');
  assert.equal(redisCli(port, 'get', 'key:99'), 'value-99');
  assert.equal(redisCli(port, 'dbsize'), '101');
  assert.equal(redisCli(port, 'incr', 'counter'), '42');
  assert.equal(redisCli(port, 'set', 'after', 'restore'), 'OK');
  assert.equal(redisCli(port, 'get', 'after'), 'restore');
  assert.equal(execFileSync('redis-cli', ['-h', '::1', '-p', String(port), 'get', 'after'], { encoding: 'utf8' }).trim(), 'restore', 'over IPv6 too');
});

test('python http.server answers requests after restore', async (t) => {
  const dir = tmpDir('cryo-e2e-httpserver', t);
  const port = await freePort();
  writeFileSync(join(dir, 'hello.txt'), 'hello from before the dump\n');
  const target = await startTarget([PYTHON, '-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir], { t, ready: 'sleeping' });
  killAtEnd(t, target.pid, readStat(target.pid).comm);
  assert.equal(await until('http.server answers', () => httpGet(port, '/hello.txt')), 'hello from before the dump\n');

  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  await restoreDetached(join(dir, 'img'));
  assertUntouched(target.pid, 'restored http.server');
  assert.equal(await httpGet(port, '/hello.txt'), 'hello from before the dump\n');
  writeFileSync(join(dir, 'new.txt'), 'written after restore\n');
  assert.equal(await httpGet(port, '/new.txt'), 'written after restore\n');
});

// A Node.js server whose state is a request counter in its heap: the count goes on after restore.
const NODE_SERVER = `
const http = require('http');
let hits = 0;
const token = Math.random().toString(36).slice(2);
http.createServer((req, res) => res.end(token + ' ' + (++hits))).listen(Number(process.argv[1]), '127.0.0.1', () => console.log('ready'));
setInterval(() => {}, 1000);
`;

test('a Node.js HTTP server answers after restore and keeps its in-memory state', async (t) => {
  const dir = tmpDir('cryo-e2e-nodehttp', t);
  const port = await freePort();
  const target = await startTarget([process.execPath, '-e', NODE_SERVER, String(port)], { t });
  killAtEnd(t, target.pid, readStat(target.pid).comm);
  const first = (await httpGet(port, '/')).split(' ');
  assert.equal(first[1], '1');
  await httpGet(port, '/');

  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  await restoreDetached(join(dir, 'img'));
  assertUntouched(target.pid, 'restored node server');
  assert.deepEqual((await httpGet(port, '/')).split(' '), [first[0], '3'], 'same token, the counter goes on');
  assert.deepEqual((await httpGet(port, '/')).split(' '), [first[0], '4']);
});

// A server and its client in one tree (the client is the server's child), talking over an
// established loopback TCP connection: every round the client sends n, the server answers n*2,
// the client logs "n n*2". Checkpointed with --tcp-established, the talk goes on where it was.
const TCP_TREE = `
import os, socket, sys, time
log = sys.argv[1]
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
port = srv.getsockname()[1]
if os.fork() == 0:
    srv.close()
    c = socket.create_connection(('127.0.0.1', port))
    out = open(log, 'a', buffering=1)
    f = c.makefile('rwb', buffering=0)
    n = 0
    while True:
        n += 1
        c.sendall(b'%d\\n' % n)
        reply = f.readline()
        out.write('%d %s\\n' % (n, reply.decode().strip()))
        time.sleep(0.01)
conn, _ = srv.accept()
print('ready', flush=True)
f = conn.makefile('rb', buffering=0)
for line in f:
    conn.sendall(b'%d\\n' % (int(line) * 2))
`;

test('a client and a server in one tree keep their TCP connection (--tcp-established)', async (t) => {
  const dir = tmpDir('cryo-e2e-tcptree', t);
  const log = join(dir, 'talk.log');
  const target = await startTarget([PYTHON, '-c', TCP_TREE, log], { t });
  const [client] = readChildren(target.pid, target.pid);
  assert.ok(client, 'the server forked its client');
  for (const p of [target.pid, client]) killAtEnd(t, p, readStat(p).comm);
  await waitForFileLine(log, (l) => Number(l.split(' ')[0]) > 20);

  await dumpOk(target.pid, join(dir, 'img'), ['--tcp-established']);
  await waitDumpedGone(target);
  const atDump = numbers(log).length;
  await restoreDetached(join(dir, 'img'), ['--tcp-established']);
  for (const p of [target.pid, client]) assertUntouched(p, `${readStat(p).comm} ${p}`);
  await waitForFileLine(log, (l) => Number(l.split(' ')[0]) > atDump + 30);
  const text = readFileSync(log, 'utf8');
  text
    .slice(0, text.lastIndexOf('\n'))
    .split('\n')
    .forEach((l, i) => assert.equal(l, `${i + 1} ${(i + 1) * 2}`, `round ${i + 1}`));
});
