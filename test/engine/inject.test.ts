// Syscall injection on its own: a real stopped task runs syscalls for cryo and then continues
// exactly where it was (here: still sleeping in nanosleep, later killed by SIGTERM as usual).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GUARD_BLOCK_BYTES, GUARD_BLOCK_OFF, GUARD_CLONE, GUARD_CODE, GUARD_STOP_END, RemoteThread, fixupRestart, guardBlock, guardStopSignal } from '../../engine/inject.ts';
import { RemoteProcess, SCRATCH_SIZE, findVdsoSyscall } from '../../engine/remote.ts';
import { NR, PROT, PTRACE_O, R, SIG, detach, getRegs, getSigmask, interrupt, newRegs, seize, setReg, setRegs, setSigmask, sreg, waitTask } from '../../native/index.ts';
import { repoRoot } from '../helpers/repo.ts';
import { startTarget } from '../helpers/targets.ts';

test('injected getpid/getppid run inside the task, which then sleeps on', async (t) => {
  const target = await startTarget(['/bin/sleep', '1000'], { ready: 'sleeping', t });
  const pid = target.pid;
  seize(pid, PTRACE_O.TRACESYSGOOD);
  interrupt(pid);
  assert.equal(waitTask(pid).kind, 'stopped');
  const th = new RemoteThread(pid, findVdsoSyscall(pid));
  assert.equal(Number(th.call('getpid', NR.getpid)), pid);
  const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  assert.equal(Number(th.call('getppid', NR.getppid)), ppid);
  // A failing syscall reports -errno and call() turns it into a SyscallError naming it.
  assert.throws(() => th.call('close', NR.close, 12345), /close\(injected in \d+: 12345\): EBADF/);
  th.finish({ ownRestartBlock: true });
  detach(pid);
  await new Promise((r) => setTimeout(r, 100));
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  assert.equal(stat[0], 'S', 'still sleeping');
  const sc = readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0];
  assert.ok(sc === '230' || sc === '219' || sc === '35', `in nanosleep or restart_syscall, got ${sc}`);
  process.kill(pid, 'SIGTERM');
  const end = await target.exited;
  assert.equal(end.signal, 'SIGTERM');
});

test('restart fix-up: interrupted syscalls are re-run, restart blocks become -EINTR in a new task', () => {
  const regs = newRegs();
  setReg(regs, 'orig_ax', 0);
  setReg(regs, 'ax', -512);
  setReg(regs, 'ip', 0x1002);
  fixupRestart(regs, false);
  assert.equal(sreg(regs, 'ax'), 0n);
  assert.equal(sreg(regs, 'ip'), 0x1000n);
  assert.equal(sreg(regs, 'orig_ax'), -1n);

  setReg(regs, 'orig_ax', 230);
  setReg(regs, 'ax', -516);
  setReg(regs, 'ip', 0x2002);
  const same = regs.slice();
  fixupRestart(regs, false);
  assert.equal(sreg(regs, 'ax'), -4n);
  assert.equal(sreg(regs, 'ip'), 0x2002n);
  fixupRestart(same, true);
  assert.equal(sreg(same, 'ax'), BigInt(NR.restart_syscall));
  assert.equal(sreg(same, 'ip'), 0x2000n);
});

test('batched syscalls: a thousand mprotects in a few stops, the first checked failure named', async (t) => {
  const target = await startTarget(['/bin/sleep', '1000'], { ready: 'sleeping', t });
  const pid = target.pid;
  seize(pid, PTRACE_O.TRACESYSGOOD);
  interrupt(pid);
  assert.equal(waitTask(pid).kind, 'stopped');
  const rp = new RemoteProcess(pid, findVdsoSyscall(pid));
  const scratch = rp.mapScratch();
  rp.useTrapCode();
  // An area of 1,000 pages to cut into 1,000 VMAs, alternating read-only and read-write.
  const area = rp.leader.call('mmap', NR.mmap, 0, 1000 * 4096, PROT.READ | PROT.WRITE, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
  const before = rp.leader.count;
  rp.batch(Array.from({ length: 1000 }, (_, i) => ({ name: 'mprotect', nr: NR.mprotect, args: [area + BigInt(i * 4096), 4096, i % 2 ? PROT.READ : PROT.READ | PROT.WRITE] })));
  assert.equal(rp.leader.count - before, 1000);
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  const inArea = maps.filter((l) => {
    const start = BigInt(`0x${l.split('-')[0] || '0'}`);
    return l && start >= area && start < area + 1000n * 4096n;
  });
  assert.equal(inArea.length, 1000, 'each page its own VMA');
  assert.ok(inArea[0]!.includes(' rw-p ') && inArea[1]!.includes(' r--p '));
  // Unchecked failures are passed over; a checked one stops the batch and is named.
  const marker = rp.leader.call('mmap', NR.mmap, 0, 4096, PROT.READ | PROT.WRITE, 0x22, -1, 0);
  assert.throws(
    () =>
      rp.batch([
        { name: 'madvise', nr: NR.madvise, args: [area, 4096, 9999], check: false },
        { name: 'close', nr: NR.close, args: [54321] },
        { name: 'munmap', nr: NR.munmap, args: [marker, 4096] },
      ]),
    /close\(injected in \d+: 54321\): EBADF/,
  );
  assert.ok(readFileSync(`/proc/${pid}/maps`, 'utf8').includes(marker.toString(16)), 'nothing after the failure ran');
  rp.batch([{ name: 'munmap', nr: NR.munmap, args: [area, 1000 * 4096] }, { name: 'munmap', nr: NR.munmap, args: [marker, 4096] }]);
  rp.stopScratchCode();
  rp.leader.call('munmap', NR.munmap, scratch, SCRATCH_SIZE);
  rp.restoreAll();
  detach(pid);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0], 'S', 'still sleeping');
  process.kill(pid, 'SIGTERM');
  assert.equal((await target.exited).signal, 'SIGTERM');
});

test('GUARD_CODE is engine/inject-guard.s assembled, its entries and block where the source puts them', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cryo-guard-asm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const obj = join(dir, 'guard.o');
  const bin = join(dir, 'guard.bin');
  // GNU as comes with gcc, which the tests need for their targets anyway.
  execFileSync('as', ['-o', obj, join(repoRoot(), 'engine', 'inject-guard.s')]);
  execFileSync('objcopy', ['-O', 'binary', '-j', '.text', obj, bin]);
  const labels = new Map(
    execFileSync('nm', [obj], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([addr, , name]) => [name!, parseInt(addr!, 16)] as const),
  );
  assert.deepEqual(readFileSync(bin).subarray(0, labels.get('code_end')), Buffer.from(GUARD_CODE));
  assert.equal(labels.get('restore'), GUARD_STOP_END);
  assert.equal(labels.get('clone'), GUARD_CLONE);
  assert.equal(labels.get('block'), GUARD_BLOCK_OFF);
  assert.equal(labels.get('block_end')! - labels.get('block')!, GUARD_BLOCK_BYTES);
});

test('guard stop signal: one the process ignores, by default or explicitly, and has none pending', () => {
  const bit = (...sigs: number[]): bigint => sigs.reduce((m, s) => m | (1n << BigInt(s - 1)), 0n);
  const st = (o: Partial<{ sigIgn: bigint; sigCgt: bigint; sigPnd: bigint; shdPnd: bigint }>) => ({ sigIgn: 0n, sigCgt: 0n, sigPnd: 0n, shdPnd: 0n, ...o });
  assert.equal(guardStopSignal([st({})]), SIG.SIGURG);
  assert.equal(guardStopSignal([st({ sigCgt: bit(SIG.SIGURG) })]), SIG.SIGWINCH);
  assert.equal(guardStopSignal([st({}), st({ sigPnd: bit(SIG.SIGURG) })]), SIG.SIGWINCH, 'pending in one thread');
  assert.equal(guardStopSignal([st({ sigCgt: bit(SIG.SIGURG, SIG.SIGWINCH), shdPnd: bit(SIG.SIGCHLD) })]), 0);
  // Python: SIGPIPE ignored; with handlers for the three, SIGPIPE it is.
  assert.equal(guardStopSignal([st({ sigIgn: bit(SIG.SIGPIPE), sigCgt: bit(SIG.SIGURG, SIG.SIGWINCH, SIG.SIGCHLD) })]), SIG.SIGPIPE);
  // SIGCONT resumes a stopped task when sent, even ignored: never used.
  assert.equal(guardStopSignal([st({ sigIgn: bit(SIG.SIGCONT), sigCgt: bit(SIG.SIGURG, SIG.SIGWINCH, SIG.SIGCHLD) })]), 0);
});

test('the guard code\'s way back: a thread left at it by a tracer that is gone runs its call and returns to exactly where it was', async (t) => {
  const target = await startTarget(['/bin/sleep', '1000'], { ready: 'sleeping', t });
  const pid = target.pid;
  const maskBefore = /^SigBlk:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
  seize(pid, PTRACE_O.TRACESYSGOOD);
  interrupt(pid);
  assert.equal(waitTask(pid).kind, 'stopped');
  const rp = new RemoteProcess(pid, findVdsoSyscall(pid), { guarded: true });
  rp.mapScratch();
  rp.useGuardCode(SIG.SIGURG);
  // Through the guard while cryo is there: results as usual, the thread parked in between.
  assert.equal(Number(rp.leader.call('getpid', NR.getpid)), pid);
  assert.deepEqual(rp.run([{ name: 'getpid', nr: NR.getpid, args: [] }, { name: 'getppid', nr: NR.getppid, args: [] }]).length, 2);
  const own = rp.leader.saved.slice();
  fixupRestart(own, true);
  assert.equal(getRegs(pid)[R.ip], own[R.ip], 'parked at its own ip (its sleep to be restarted) between calls');
  // What a cryo killed mid-call leaves: the thread at the clone entry (getpid: not 0, so the
  // parent's way) with cryo's registers and all signals blocked, its way back in the block.
  const code = rp.leader.guard!.code;
  rp.leader.write(code + BigInt(GUARD_BLOCK_OFF), guardBlock(own, getSigmask(pid), pid, pid, SIG.SIGURG));
  const regs = rp.leader.saved.slice();
  setReg(regs, 'ax', NR.getpid);
  setReg(regs, 'orig_ax', -1);
  setReg(regs, 'ip', code + BigInt(GUARD_CLONE));
  setReg(regs, 'r12', 0xdeadn);
  setRegs(pid, regs);
  setSigmask(pid, 0xffffffffffffffffn);
  detach(pid);
  await new Promise((r) => setTimeout(r, 100));
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  assert.equal(stat[0], 'S', 'sleeping again');
  const sc = readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ');
  assert.ok(sc[0] === '230' || sc[0] === '35' || sc[0] === '219', `back in its sleep, got ${sc[0]}`);
  assert.equal(/^SigBlk:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1], maskBefore, 'its own signal mask');
  // Its registers are its own again (those its sleep doesn't change).
  seize(pid, PTRACE_O.TRACESYSGOOD);
  interrupt(pid);
  assert.equal(waitTask(pid).kind, 'stopped');
  const now = getRegs(pid);
  for (const r of ['bx', 'bp', 'r12', 'r13', 'r14', 'r15', 'sp', 'flags'] as const) assert.equal(now[R[r]], own[R[r]], r);
  detach(pid);
  process.kill(pid, 'SIGTERM');
  assert.equal((await target.exited).signal, 'SIGTERM');
});
