// Terminals: a shell job on a terminal it did not open (dump -j, restore -j onto cryo's own
// terminal), and a pty pair the task owns (termios, window size, packet mode, lock, exclusive,
// controlling terminal; data flows both ways after the restore). Both targets also hold an fd on
// /dev/tty. The terminals of these tests are made by test/targets/pty_run.c, which plays the
// terminal emulator: the test types into it through its stdin and reads the screen from its
// stdout.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { readStat } from '../../engine/proc/index.ts';
import { runCryo } from '../helpers/cryo.ts';
import { repoRoot } from '../helpers/repo.ts';
import { buildTarget, parseReport, requestReport, startTarget, waitForFileLine } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { assertUntouched, dumpOk, killAtEnd, restoreDetached, sleep, waitDead, waitDumpedGone } from './e2e.ts';

const CRIT = '/usr/bin/crit';
const critSkip = !existsSync(CRIT) && process.env['CI'] !== 'true';

interface PtyRun {
  /** The pty's slave and the pid of the program running on it (a session leader). */
  readonly started: Promise<{ pts: string; child: number }>;
  readonly exited: Promise<number | null>;
  type(text: string): void;
  /** Waits for `re` on the screen (after `since` characters); returns the match. */
  waitScreen(re: RegExp, since?: number, timeoutMs?: number): Promise<RegExpExecArray>;
  screen(): string;
}

/** Runs `args` on a new pty through pty_run; everything it started is killed after `t`. */
function onPty(t: TestContext, args: readonly string[]): PtyRun {
  const child = spawn(buildTarget('pty_run'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (screen += d));
  const started = new Promise<{ pts: string; child: number }>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /pts=(\S+) child=(\d+)/.exec(err);
      if (m) resolve({ pts: m[1]!, child: Number(m[2]) });
    });
    child.on('error', reject);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(async () => {
    const { child: leader } = await Promise.race([started, sleep(100).then(() => ({ child: 0 }))]);
    for (const pid of [leader, child.pid ?? 0]) {
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await Promise.race([exited, sleep(2000)]);
  });
  return {
    started,
    exited,
    type: (text) => void child.stdin.write(text),
    screen: () => screen,
    async waitScreen(re, since = 0, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = re.exec(screen.slice(since));
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`${re} not on the screen after ${timeoutMs} ms:\n${screen}\n(stderr: ${err})`);
        await sleep(20);
      }
    },
  };
}

function crit(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(CRIT, args, (e, _out, stderr) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : 127) : 0, stderr }));
  });
}

async function assertCritDecodes(img: string, files: readonly string[]): Promise<void> {
  if (critSkip) return;
  for (const f of files) {
    const r = await crit(['decode', '-i', join(img, f)]);
    assert.equal(r.code, 0, `crit decode ${f}: ${r.stderr}`);
  }
}

test('a shell job keeps working on the terminal cryo restore runs on (dump -j, restore -j)', async (t) => {
  const dir = tmpDir('cryo-tty-shell', t);
  const img = join(dir, 'img');
  const first = onPty(t, ['--fork', buildTarget('tty_echo')]);
  const ready = await first.waitScreen(/ready pid=(\d+) tty=(\S+)/);
  const pid = Number(ready[1]);
  killAtEnd(t, pid, 'tty_echo');
  assert.equal(ready[2], (await first.started).pts);
  first.type('one\n');
  await first.waitScreen(/echo n=1 tty=\S+ line=one\r?\ndevtty n=1/);

  // Without --shell-job the terminal (and the session) belong to someone else: refused, untouched.
  const refused = await runCryo(['dump', '-t', String(pid), '-D', join(dir, 'refused')]);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /--shell-job/);
  assertUntouched(pid);

  await dumpOk(pid, img, ['-j']);
  await waitDead(pid);
  await assertCritDecodes(img, ['tty-info.img', 'files.img']);

  // Restore without -j is refused before any process is made.
  const noJob = await runCryo(['restore', '-d', '-D', img]);
  assert.notEqual(noJob.code, 0);
  assert.match(noJob.stderr, /shell-job/);

  // cryo restore -j in the foreground of another terminal: the task joins its session and group.
  const second = onPty(t, [process.execPath, join(repoRoot(), 'bin', 'cryo.js'), 'restore', '-j', '-D', img, '-v4', '-o', 'restore.log']);
  const { pts, child: cryoPid } = await second.started;
  await waitForFileLine(join(img, 'restore.log'), (l) => /Restore finished/.test(l), 20_000);
  const st = readStat(pid);
  assert.equal(st.session, cryoPid, 'in cryo\'s session');
  assert.equal(st.pgrp, cryoPid, 'in cryo\'s process group');
  const since = second.screen().length;
  second.type('two\n');
  const echo = await second.waitScreen(/echo n=(\d+) tty=(\S+) line=two/, since);
  assert.equal(echo[1], '2', 'the line count went on from before the dump');
  assert.equal(echo[2], pts, 'it writes to the new terminal');
  await second.waitScreen(/devtty n=2/, since); // its /dev/tty fd is cryo's terminal too
  // cryo waits for the task and exits with its status once it ends.
  process.kill(pid, 'SIGTERM');
  assert.equal(await Promise.race([second.exited, sleep(10_000).then(() => 'timeout')]), 128 + 15);
});

test('a pty pair the task owns: data flows both ways, termios, window size, modes and the controlling terminal survive', async (t) => {
  const dir = tmpDir('cryo-tty-pair', t);
  const log = join(dir, 'report.log');
  const target = await startTarget([buildTarget('pty_pair'), log], { t });
  const before = parseReport(await requestReport(target.pid, log));
  assert.equal(before.s2m, 'ok', JSON.stringify(before));
  assert.equal(before.m2s, 'ok');
  assert.equal(before.sid_ok, '1', 'the slave is its controlling terminal');
  const img = join(dir, 'img');
  await dumpOk(target.pid, img);
  await waitDumpedGone(target);
  await assertCritDecodes(img, ['tty-info.img', 'files.img']);
  await restoreDetached(img);
  const after = parseReport(await requestReport(target.pid, log));
  assert.equal(after.rounds, '2', 'memory survived');
  assert.equal(after.s2m, 'ok', 'slave (written through /dev/tty) → master after the restore');
  assert.equal(after.m2s, 'ok', 'master → slave after the restore');
  for (const k of ['iflag', 'oflag', 'cflag', 'lflag', 'vmin', 'vintr', 'speed', 'ws', 'pkt', 'locked', 'excl', 'sid_ok', 'fg_ok']) {
    assert.equal(after[k], before[k], `${k}: ${before[k]} → ${after[k]}`);
  }
  assert.equal(readStat(target.pid).session, target.pid, 'still its own session leader');
});

test('a pty with bytes nobody read yet is refused, and the task runs on untouched', async (t) => {
  const dir = tmpDir('cryo-tty-queued', t);
  const target = await startTarget([buildTarget('pty_pair'), join(dir, 'report.log'), 'queued'], { t });
  const r = await runCryo(['dump', '-t', String(target.pid), '-D', join(dir, 'img')]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /5 byte\(s\) are queued/);
  assertUntouched(target.pid);
});
