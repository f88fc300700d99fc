// Syscall injection on its own: a real stopped task runs syscalls for cryo and then continues
// exactly where it was (here: still sleeping in nanosleep, later killed by SIGTERM as usual).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { RemoteThread, fixupRestart } from '../../engine/inject.ts';
import { RemoteProcess, SCRATCH_SIZE, findVdsoSyscall } from '../../engine/remote.ts';
import { NR, PROT, PTRACE_O, detach, interrupt, newRegs, seize, setReg, sreg, waitTask } from '../../native/index.ts';
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
  rp.stopTrapCode();
  rp.leader.call('munmap', NR.munmap, scratch, SCRATCH_SIZE);
  rp.restoreAll();
  detach(pid);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0], 'S', 'still sleeping');
  process.kill(pid, 'SIGTERM');
  assert.equal((await target.exited).signal, 'SIGTERM');
});
