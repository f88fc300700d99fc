import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { test } from 'node:test';
import {
  listThreads,
  parseSyscall,
  readChildren,
  readComm,
  readCwd,
  readExeLink,
  readFdLinks,
  readRoot,
  readSyscall,
} from '../../../engine/proc/index.ts';
import { fixture } from '../../helpers/repo.ts';
import { buildTarget, parseReport, requestReport, startTarget } from '../../helpers/targets.ts';
import { tmpDir } from '../../helpers/tmp.ts';

const SYS_read = 0;
const SYS_pause = 34;
const SYS_clock_nanosleep = 230;

test('parseSyscall: in a syscall, running, blocked outside one', () => {
  const s = parseSyscall(fixture('proc/syscall-capture.txt'));
  assert.ok(!('running' in s) && s.nr === SYS_pause && 'args' in s);
  assert.equal(s.args.length, 6);
  assert.equal(s.args[2], 2n);
  assert.equal(s.pc, 0x7fc46e80ddf2n);
  assert.deepEqual(parseSyscall(fixture('proc/syscall-running.txt')), { running: true });
  assert.deepEqual(parseSyscall('-1 0x7ffd1000 0x401000\n'), { nr: -1, sp: 0x7ffd1000n, pc: 0x401000n });
});

test('live: threads, comm, exe, cwd, root of a threaded target', async (t) => {
  const dir = tmpDir('cryo-tasks', t);
  const log = `${dir}/log`;
  const bin = buildTarget('threads');
  const target = await startTarget([bin, log, '3'], { t, cwd: dir });
  const tids = listThreads(target.pid);
  const r = parseReport(await requestReport(target.pid, log));
  assert.deepEqual(tids, [target.pid, ...r['tids']!.split(',').map(Number)].sort((a, b) => a - b));
  assert.equal(readComm(target.pid), 'threads');
  assert.equal(readComm(target.pid, tids[1]), 'threads');
  assert.equal(readExeLink(target.pid), realpathSync(bin));
  assert.equal(readCwd(target.pid), realpathSync(dir));
  assert.equal(readRoot(target.pid), '/');
  // The main thread wakes every 10 ms to step its workers, so one read may catch it running;
  // it must be seen in its sleep within a few tries.
  let main = readSyscall(target.pid);
  for (let i = 0; i < 200 && !(!('running' in main) && main.nr === SYS_clock_nanosleep); i++) {
    await new Promise((r) => setTimeout(r, 2));
    main = readSyscall(target.pid);
  }
  assert.ok(!('running' in main) && main.nr === SYS_clock_nanosleep, JSON.stringify(main, (_, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v)));
});

test('live: children, fd links and a blocking read', async (t) => {
  const dir = tmpDir('cryo-tasks', t);
  const sleeper = await startTarget(['/bin/sleep', '1000'], { t, ready: 'sleeping' });
  // libuv forks from the main thread
  assert.ok(readChildren(process.pid, process.pid).includes(sleeper.pid));
  assert.deepEqual(readChildren(sleeper.pid, sleeper.pid), []);

  const files = await startTarget([buildTarget('files'), `${dir}/log`, dir], { t });
  const links = readFdLinks(files.pid);
  assert.deepEqual(links.map((l) => l.fd), [...links.map((l) => l.fd)].sort((a, b) => a - b));
  const byFd = new Map(links.map((l) => [l.fd, l.link]));
  assert.equal(byFd.get(100), `${realpathSync(dir)}/data.txt`);
  assert.ok([...byFd.values()].includes(`${realpathSync(dir)}/ghost.txt (deleted)`));
  assert.ok([...byFd.values()].includes('/dev/null'));

  const reader = await startTarget([buildTarget('pipe_reader'), `${dir}/pipe.log`], { t });
  let sc = readSyscall(reader.pid);
  for (let i = 0; i < 100 && ('running' in sc || sc.nr !== SYS_read); i++) {
    await new Promise((r) => setTimeout(r, 10));
    sc = readSyscall(reader.pid);
  }
  assert.ok(!('running' in sc) && sc.nr === SYS_read && 'args' in sc);
  assert.match(byFdLink(reader.pid, Number(sc.args[0])), /^pipe:\[\d+\]$/);
});

function byFdLink(pid: number, fd: number): string {
  return readFdLinks(pid).find((l) => l.fd === fd)?.link ?? '';
}
