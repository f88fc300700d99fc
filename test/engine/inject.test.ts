// Syscall injection on its own: a real stopped task runs syscalls for cryo and then continues
// exactly where it was (here: still sleeping in nanosleep, later killed by SIGTERM as usual).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { RemoteThread, fixupRestart } from '../../engine/inject.ts';
import { findVdsoSyscall } from '../../engine/remote.ts';
import { NR, PTRACE_O, detach, interrupt, newRegs, seize, setReg, sreg, waitTask } from '../../native/index.ts';
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
