// Objects cryo refuses, or saves only up to a limit: the dump names them and leaves the task
// running; with the limit raised the object comes back.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSize } from '../../cli/commands/dump.ts';
import { runCryo } from '../helpers/cryo.ts';
import { buildTarget, startTarget } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { PYTHON } from './e2e.ts';

const state = (pid: number): string => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0]!;
const tracer = (pid: number): string => /TracerPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;

test('a task under a seccomp filter is refused, named, and left running', async (t) => {
  const dir = tmpDir('cryo-seccomp', t);
  const target = await startTarget([buildTarget('seccomp'), join(dir, 'log')], { t });
  const d = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'img')]);
  assert.equal(d.code, 4, d.stderr);
  assert.match(d.stderr, new RegExp(`${target.pid}.*seccomp`));
  assert.ok(['S', 'R'].includes(state(target.pid)));
  assert.equal(tracer(target.pid), '0');
});

test('a deleted-but-open file over --ghost-limit is refused; raising the limit saves and restores it', async (t) => {
  const dir = tmpDir('cryo-ghost', t);
  const script = [
    'import os, sys, time',
    `p = "${dir}/big.bin"`,
    'f = open(p, "w+b"); f.write(bytes(range(256)) * 8192); f.flush(); os.unlink(p)',
    'print("ready", flush=True)',
    'while True:',
    '    time.sleep(0.05)',
    // Written aside and renamed: a reader never sees a half-written (empty) check file.
    `    f.seek(0); d = f.read(); open("${dir}/check.tmp", "w").write("ok" if d == bytes(range(256)) * 8192 else "BAD"); os.replace("${dir}/check.tmp", "${dir}/check")`,
  ].join('\n');
  const target = await startTarget([PYTHON, '-c', script], { t });
  const refused = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'img')]);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /ghost file .*big\.bin.* of 2097152 bytes/);
  // Running (S/R, or D for a moment while it writes its check file), not stopped or traced.
  assert.ok(['S', 'R', 'D'].includes(state(target.pid)), `left running (state ${state(target.pid)})`);
  assert.equal(tracer(target.pid), '0');
  const d = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'img'), '--ghost-limit', '4M']);
  assert.equal(d.code, 0, d.stderr);
  const r = await runCryo(['restore', '-D', join(dir, 'img'), '-d']);
  assert.equal(r.code, 0, r.stderr);
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(readFileSync(join(dir, 'check'), 'utf8'), 'ok', 'the restored task reads its deleted file back');
  assert.equal(existsSync(join(dir, 'big.bin')), false, 'and the file is deleted again');
  // Stopped before its folder is removed: it keeps writing into it.
  await target.stop();
});

test('sizes are bytes with an optional K, M or G suffix, as in CRIU', () => {
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('1M'), 1 << 20);
  assert.equal(parseSize('2g'), 2 * 2 ** 30);
  assert.throws(() => parseSize('1.5M'), /bad size/);
});
