// Task and thread state carried in core-TID.img: registers and FPU state, signal masks and
// handlers, pending signals, sigaltstack, rseq, robust futex list, clear_child_tid, pdeath
// signal, scheduling, itimers, rlimits, personality, credentials. Dump and restore halves.
import { readFileSync, writeFileSync } from 'node:fs';
import {
  NR,
  PR,
  RLIMIT_NLIMITS,
  SIG,
  SIGMAX,
  getRobustList,
  getRlimit,
  getRseqConfig,
  getSched,
  getXstate,
  peekSiginfo,
  setRlimit,
  setSched,
  setXstate,
  type Regs,
} from '../../native/index.ts';
import type { DumpContext, DumpTask, RestoreContext, RestoreTask } from '../context.ts';
import type { RemoteThread } from '../inject.ts';
import { readComm, readLimits, readStatus, type ProcStatus } from '../proc/index.ts';
import { RuntimeError, UnsupportedError } from '../../errors.ts';
import type { BatchedCall, RemoteProcess } from '../remote.ts';
import { collectPosixTimers } from './posix-timers.ts';
import { emptyTls, entryToRegs, fpregsToXstate, regsToEntry, xstateToFpregs } from '../x86.ts';

type Entry = Record<string, any>;

// Scratch offsets used by this module's injected syscalls.
const OUT = 0; // up to 4 KiB of results
const IN = 4096; // arguments

/** task_state of a core image (CRIU's values). */
export const TASK = { ALIVE: 1, DEAD: 2, STOPPED: 3 } as const;

/** Signals that have a sigaction in CRIU's image: 1..64 without SIGKILL and SIGSTOP (62). */
export const SIGACTION_SIGNALS = Array.from({ length: SIGMAX }, (_, i) => i + 1).filter((s) => s !== SIG.SIGKILL && s !== SIG.SIGSTOP);

function u64(buf: Buffer, off: number): bigint {
  return buf.readBigUInt64LE(off);
}

function capWords(v: bigint): number[] {
  return [Number(v & 0xffffffffn), Number(v >> 32n)];
}
function wordsCap(w: readonly number[] | undefined): bigint {
  return BigInt(w?.[0] ?? 0) | (BigInt(w?.[1] ?? 0) << 32n);
}

function credsOf(st: ProcStatus, secbits: number): Entry {
  return {
    uid: st.uid[0], euid: st.uid[1], suid: st.uid[2], fsuid: st.uid[3],
    gid: st.gid[0], egid: st.gid[1], sgid: st.gid[2], fsgid: st.gid[3],
    cap_inh: capWords(st.capInh), cap_prm: capWords(st.capPrm), cap_eff: capWords(st.capEff), cap_bnd: capWords(st.capBnd),
    cap_amb: capWords(st.capAmb),
    secbits,
    groups: [...st.groups],
    no_new_privs: st.noNewPrivs,
  };
}

function queue(infos: Buffer[]): Entry | undefined {
  return infos.length ? { signals: infos.map((siginfo) => ({ siginfo })) } : undefined;
}

/** ---- dump ---- */

function collectThread(ctx: DumpContext, task: DumpTask, tid: number, st: ProcStatus): Entry {
  const rp = task.remote;
  const t = rp.thread(tid);
  const out = (off: number): bigint => rp.scratch + BigInt(OUT + off);
  // One stop for all four through the guard code (RemoteProcess.run).
  const secbits = Number(
    rp.run(
      [
        { name: 'prctl', nr: NR.prctl, args: [PR.GET_TID_ADDRESS, out(0), 0, 0, 0] },
        { name: 'prctl', nr: NR.prctl, args: [PR.GET_PDEATHSIG, out(8), 0, 0, 0] },
        { name: 'sigaltstack', nr: NR.sigaltstack, args: [0, out(16)] },
        { name: 'prctl', nr: NR.prctl, args: [PR.GET_SECUREBITS, 0, 0, 0, 0] },
      ],
      t,
    )[3],
  );
  const got = rp.get(OUT, 40);
  const clearTid = u64(got, 0);
  const pdeath = got.readUInt32LE(8);
  const ss = got.subarray(16, 40);
  const robust = getRobustList(tid);
  const rseq = getRseqConfig(tid);
  const sched = getSched(tid);
  if (st.seccomp !== 0) {
    // Restoring without the filter would silently drop a security boundary.
    throw new UnsupportedError(`${tid}: the thread runs under seccomp (mode ${st.seccomp})`, { hint: 'seccomp filters are not supported yet' });
  }
  const threadCore: Entry = {
    futex_rla: robust.head,
    futex_rla_len: robust.len,
    sched_nice: sched.nice,
    sched_policy: sched.policy,
    sched_prio: sched.prio,
    blk_sigset: t.savedMask,
    sas: { ss_sp: u64(ss, 0), ss_size: u64(ss, 16), ss_flags: ss.readInt32LE(8) },
    pdeath_sig: pdeath,
    creds: credsOf(st, secbits),
    comm: readComm(task.proc.pid, tid),
  };
  const pending = queue(peekSiginfo(tid, false));
  if (pending) threadCore.signals_p = pending;
  if (rseq.rseqAbiPointer !== 0n) {
    threadCore.rseq_entry = { rseq_abi_pointer: rseq.rseqAbiPointer, rseq_abi_size: rseq.rseqAbiSize, signature: rseq.signature };
  }
  return {
    mtype: 1, // X86_64
    thread_info: {
      clear_tid_addr: clearTid,
      gpregs: regsToEntry(t.saved),
      fpregs: xstateToFpregs(getXstate(tid), ctx.xsave),
      tls: emptyTls(),
    },
    thread_core: threadCore,
  };
}

/** Every signal's action (32 bytes each) and the three itimers (32 each) in one run of syscalls. */
function collectSigactionsAndItimers(rp: RemoteProcess): { sigactions: Entry[]; itimers: Entry } {
  const out = (i: number): bigint => rp.scratch + BigInt(OUT + i * 32);
  const n = SIGACTION_SIGNALS.length;
  rp.run([
    ...SIGACTION_SIGNALS.map((sig, i) => ({ name: 'rt_sigaction', nr: NR.rt_sigaction, args: [sig, 0, out(i), 8] })),
    ...[0, 1, 2].map((which) => ({ name: 'getitimer', nr: NR.getitimer, args: [which, out(n + which)] })),
  ]);
  const got = rp.get(OUT, (n + 3) * 32);
  const sigactions = SIGACTION_SIGNALS.map((_, i) => {
    const sa = got.subarray(i * 32, i * 32 + 32);
    return { sigaction: u64(sa, 0), flags: u64(sa, 8), restorer: u64(sa, 16), mask: u64(sa, 24), compat_sigaction: false };
  });
  const itimer = (which: number): Entry => {
    const b = got.subarray((n + which) * 32, (n + which) * 32 + 32);
    return { isec: u64(b, 0), iusec: u64(b, 8), vsec: u64(b, 16), vusec: u64(b, 24) };
  };
  return { sigactions, itimers: { real: itimer(0), virt: itimer(1), prof: itimer(2) } };
}

/**
 * core entries of every thread of a task, leader first (the leader's carries `tc`). `statuses`:
 * /proc status of each thread, read once by the caller.
 */
export function collectCores(ctx: DumpContext, task: DumpTask, statuses: ReadonlyMap<number, ProcStatus>): Map<number, Entry> {
  const { pid } = task.proc;
  const rp = task.remote;
  const cores = new Map<number, Entry>();
  for (const tid of task.proc.tids) cores.set(tid, collectThread(ctx, task, tid, statuses.get(tid)!));
  const leader = cores.get(pid)!;
  // From /proc: prlimit() on another user's task needs CAP_SYS_RESOURCE, which root lacks here.
  const rlimits = readLimits(pid).map((l) => ({ cur: l.soft, max: l.hard }));
  if (rlimits.length !== RLIMIT_NLIMITS) throw new RuntimeError(`/proc/${pid}/limits: ${rlimits.length} limits, expected ${RLIMIT_NLIMITS}`);
  const subreaper = rp.leader.call('prctl', NR.prctl, PR.GET_CHILD_SUBREAPER, rp.scratch + BigInt(OUT), 0, 0, 0) === 0n && rp.get(OUT, 4).readInt32LE(0) !== 0;
  const { sigactions, itimers } = collectSigactionsAndItimers(rp);
  const tc: Entry = {
    task_state: TASK.ALIVE,
    exit_code: 0,
    personality: parseInt(readFileSync(`/proc/${pid}/personality`, 'utf8'), 16),
    flags: task.proc.stat.flags,
    blk_sigset: leader.thread_core.blk_sigset,
    comm: readComm(pid),
    timers: { ...itimers, posix: collectPosixTimers(task) },
    rlimits: { rlimits: rlimits.map((l) => ({ cur: l.cur, max: l.max })) },
    sigactions,
    oom_score_adj: parseInt(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8'), 10),
    child_subreaper: subreaper,
  };
  const shared = queue(peekSiginfo(pid, true));
  if (shared) tc.signals_s = shared;
  leader.tc = tc;
  return cores;
}

/** ---- restore ---- */

/** One signal's handler, as dumped (the leader sets it for the whole thread group). */
/** struct kernel_sigaction (handler, flags, restorer, mask) of one sigaction_entry. */
function kernelSigaction(sa: Entry): Buffer {
  const b = Buffer.alloc(32);
  b.writeBigUInt64LE(BigInt(sa.sigaction), 0);
  b.writeBigUInt64LE(BigInt(sa.flags), 8);
  b.writeBigUInt64LE(BigInt(sa.restorer), 16);
  b.writeBigUInt64LE(BigInt(sa.mask), 24);
  return b;
}

export function restoreSigaction(task: RestoreTask, sig: number): void {
  const tc = task.cores.get(task.pid)!.tc as Entry;
  const sa = ((tc.sigactions ?? []) as Entry[])[SIGACTION_SIGNALS.indexOf(sig)];
  if (!sa) return;
  task.remote.leader.call('rt_sigaction', NR.rt_sigaction, sig, task.remote.put(IN, kernelSigaction(sa)), 0, 8);
}

/** Every handler at once: the structs in one write, the rt_sigaction calls in one batch. */
function restoreSigactions(task: RestoreTask): void {
  const tc = task.cores.get(task.pid)!.tc as Entry;
  const all = (tc.sigactions ?? []) as Entry[];
  const set = SIGACTION_SIGNALS.flatMap((sig, i) => (all[i] ? [{ sig, sa: all[i] }] : []));
  if (!set.length) return;
  const at = task.remote.put(IN, Buffer.concat(set.map((s) => kernelSigaction(s.sa))));
  task.remote.batch(set.map((s, i) => ({ name: 'rt_sigaction', nr: NR.rt_sigaction, args: [s.sig, at + BigInt(i * 32), 0, 8] })));
}

/** Process-wide state, set from the leader: handlers, itimers, rlimits, personality. */
export function restoreTaskState(ctx: RestoreContext, task: RestoreTask): void {
  const rp = task.remote;
  const tc = task.cores.get(task.pid)!.tc as Entry;
  restoreSigactions(task);
  const timers = tc.timers as Entry | undefined;
  if (timers) {
    ([['real', 0], ['virt', 1], ['prof', 2]] as const).forEach(([name, which]) => {
      const it = timers[name] as Entry | undefined;
      if (!it) return;
      const b = Buffer.alloc(32);
      let [vsec, vusec] = [BigInt(it.vsec ?? 0), BigInt(it.vusec ?? 0)];
      // A periodic timer caught between expiry and re-arm reads as 0 (its signal is pending and
      // re-arms it on delivery); setitimer with 0 would disarm it: it fires again one interval on.
      if (vsec === 0n && vusec === 0n) [vsec, vusec] = [BigInt(it.isec ?? 0), BigInt(it.iusec ?? 0)];
      [BigInt(it.isec ?? 0), BigInt(it.iusec ?? 0), vsec, vusec].forEach((v, i) => b.writeBigUInt64LE(v, i * 8));
      rp.leader.call('setitimer', NR.setitimer, which, rp.put(IN, b), 0);
    });
  }
  const rlimits = ((tc.rlimits as Entry | undefined)?.rlimits ?? []) as Entry[];
  rlimits.forEach((l, r) => {
    const cur = BigInt(l.cur);
    const max = BigInt(l.max);
    try {
      setRlimit(task.pid, r, cur, max);
    } catch {
      // Raising a hard limit needs CAP_SYS_RESOURCE: keep the current hard limit.
      const now = getRlimit(task.pid, r);
      ctx.log.warn(`${task.pid}: can't raise hard rlimit ${r} to ${max}; keeping ${now.max}`);
      setRlimit(task.pid, r, cur < now.max ? cur : now.max, now.max);
    }
  });
  rp.leader.call('personality', NR.personality, Number(tc.personality ?? 0));
  if (tc.child_subreaper) rp.leader.call('prctl', NR.prctl, PR.SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  if (tc.oom_score_adj !== undefined) {
    try {
      writeFileSync(`/proc/${task.pid}/oom_score_adj`, String(tc.oom_score_adj));
    } catch {
      ctx.log.warn(`${task.pid}: can't restore oom_score_adj ${tc.oom_score_adj}`);
    }
  }
  const shared = ((tc.signals_s as Entry | undefined)?.signals ?? []) as Entry[];
  for (const s of shared) {
    const info = Buffer.from(s.siginfo as Uint8Array);
    rp.leader.call('rt_sigqueueinfo', NR.rt_sigqueueinfo, task.pid, info.readInt32LE(0), rp.put(IN, info));
  }
}

/** Per-thread state that only the thread itself can set (robust list, tid address, rseq …). */
export function restoreThreadState(ctx: RestoreContext, task: RestoreTask, tid: number, t: RemoteThread): void {
  const rp = task.remote;
  const core = task.cores.get(tid)!;
  const tcore = (core.thread_core ?? {}) as Entry;
  const ti = core.thread_info as Entry;
  // One batch for the thread's own syscalls (one stop instead of one each).
  const calls: BatchedCall[] = [
    { name: 'set_robust_list', nr: NR.set_robust_list, args: [BigInt(tcore.futex_rla ?? 0), Number(tcore.futex_rla_len ?? 24)] },
    { name: 'set_tid_address', nr: NR.set_tid_address, args: [BigInt(ti.clear_tid_addr ?? 0)] },
  ];
  const sas = tcore.sas as Entry | undefined;
  if (sas) {
    const b = Buffer.alloc(24);
    b.writeBigUInt64LE(BigInt(sas.ss_sp), 0);
    // SS_ONSTACK is a state, not a flag one may set; a thread on its altstack restores as is.
    b.writeInt32LE(Number(sas.ss_flags) & ~1, 8);
    b.writeBigUInt64LE(BigInt(sas.ss_size), 16);
    calls.push({ name: 'sigaltstack', nr: NR.sigaltstack, args: [rp.put(IN, b), 0] });
  }
  const comm = (tcore.comm as string | undefined) ?? ((core.tc as Entry | undefined)?.comm as string | undefined);
  if (comm) calls.push({ name: 'prctl', nr: NR.prctl, args: [PR.SET_NAME, rp.putString(IN + 64, comm.slice(0, 15)), 0, 0, 0] });
  const rseq = tcore.rseq_entry as Entry | undefined;
  if (rseq) calls.push({ name: 'rseq', nr: NR.rseq, args: [BigInt(rseq.rseq_abi_pointer), Number(rseq.rseq_abi_size), 0, Number(rseq.signature)] });
  rp.batch(calls, t);
  if (tcore.sched_policy !== undefined) {
    try {
      setSched(tid, { policy: Number(tcore.sched_policy), prio: Number(tcore.sched_prio ?? 0), nice: Number(tcore.sched_nice ?? 0) });
    } catch (e) {
      ctx.log.warn(`${tid}: can't restore scheduling policy: ${(e as Error).message}`);
    }
  }
  const pending = ((tcore.signals_p as Entry | undefined)?.signals ?? []) as Entry[];
  for (const s of pending) {
    const info = Buffer.from(s.siginfo as Uint8Array);
    t.call('rt_tgsigqueueinfo', NR.rt_tgsigqueueinfo, task.pid, tid, info.readInt32LE(0), rp.put(IN, info));
  }
}

/** Credentials, last of all: after them cryo may no longer be allowed to do the rest. */
export function restoreCreds(ctx: RestoreContext, task: RestoreTask, tid: number, t: RemoteThread): void {
  setCreds(ctx, task, tid, t);
  // After the credentials: changing them resets the parent-death signal (as in CRIU's restorer).
  const pdeath = Number(((task.cores.get(tid)!.thread_core ?? {}) as Entry).pdeath_sig ?? 0);
  if (pdeath) t.call('prctl', NR.prctl, PR.SET_PDEATHSIG, pdeath, 0, 0, 0);
}

function setCreds(ctx: RestoreContext, task: RestoreTask, tid: number, t: RemoteThread): void {
  const rp = task.remote;
  const raw = ((task.cores.get(tid)!.thread_core ?? {}) as Entry).creds as Entry | undefined;
  if (!raw) return;
  // Decoded images omit empty repeated fields.
  const c: Entry = { groups: [], cap_eff: [], cap_prm: [], cap_inh: [], cap_bnd: [], cap_amb: [], ...raw };
  const now = readStatus(task.pid, tid);
  const same =
    now.uid.join() === [c.uid, c.euid, c.suid, c.fsuid].join() &&
    now.gid.join() === [c.gid, c.egid, c.sgid, c.fsgid].join() &&
    now.groups.join() === (c.groups as number[]).join() &&
    now.capEff === wordsCap(c.cap_eff) && now.capPrm === wordsCap(c.cap_prm) && now.capInh === wordsCap(c.cap_inh) &&
    now.capBnd === wordsCap(c.cap_bnd) && now.capAmb === wordsCap(c.cap_amb);
  if (same) return;
  const groups = Buffer.alloc(Math.max(4, (c.groups as number[]).length * 4));
  (c.groups as number[]).forEach((g, i) => groups.writeUInt32LE(g, i * 4));
  t.call('setgroups', NR.setgroups, (c.groups as number[]).length, rp.put(IN, groups));
  // Securebits and the bounding set need CAP_SETPCAP: set them while the thread still has it,
  // with KEEP_CAPS on so that the uid change below keeps the permitted set for capset().
  const SECBIT_KEEP_CAPS = 1 << 4;
  const secbits = Number(c.secbits ?? 0);
  t.call('prctl', NR.prctl, PR.SET_SECUREBITS, secbits | SECBIT_KEEP_CAPS, 0, 0, 0);
  const bnd = wordsCap(c.cap_bnd);
  for (let cap = 0; cap < 64; cap++) if ((now.capBnd >> BigInt(cap)) & 1n && !((bnd >> BigInt(cap)) & 1n)) t.raw(NR.prctl, PR.CAPBSET_DROP, cap);
  t.call('setresgid', NR.setresgid, c.gid, c.egid, c.sgid);
  t.call('setresuid', NR.setresuid, c.uid, c.euid, c.suid);
  t.raw(NR.setfsgid, c.fsgid);
  t.raw(NR.setfsuid, c.fsuid);
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32LE(0x20080522, 0); // _LINUX_CAPABILITY_VERSION_3
  const data = Buffer.alloc(24);
  const [e, p, i] = [c.cap_eff, c.cap_prm, c.cap_inh] as number[][];
  for (let w = 0; w < 2; w++) {
    data.writeUInt32LE((e![w] ?? 0) >>> 0, w * 12);
    data.writeUInt32LE((p![w] ?? 0) >>> 0, w * 12 + 4);
    data.writeUInt32LE((i![w] ?? 0) >>> 0, w * 12 + 8);
  }
  t.call('capset', NR.capset, rp.put(IN, hdr), rp.put(IN + 64, data));
  // Ambient capabilities last: each must be in the permitted and inheritable sets.
  const amb = wordsCap(c.cap_amb);
  for (let cap = 0; cap < 64; cap++) if ((amb >> BigInt(cap)) & 1n) t.call('prctl', NR.prctl, PR.CAP_AMBIENT, 2 /* PR_CAP_AMBIENT_RAISE */, cap, 0, 0);
  // KEEP_CAPS back to the dumped value: changing it needs no capability.
  t.call('prctl', NR.prctl, 8 /* PR_SET_KEEPCAPS */, secbits & SECBIT_KEEP_CAPS ? 1 : 0, 0, 0, 0);
  if (c.no_new_privs) t.call('prctl', NR.prctl, PR.SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  ctx.log.debug(`${tid}: credentials restored`);
}

/** The thread's final registers, FPU state and signal mask. */
export function finalThreadState(ctx: RestoreContext, task: RestoreTask, tid: number, t: RemoteThread): { regs: Regs; mask: bigint } {
  const core = task.cores.get(tid)!;
  const ti = core.thread_info as Entry;
  setXstate(tid, fpregsToXstate(ti.fpregs as Entry, getXstate(tid), ctx.xsave));
  const mask = BigInt(((core.thread_core ?? {}) as Entry).blk_sigset ?? (core.tc as Entry | undefined)?.blk_sigset ?? 0);
  return { regs: entryToRegs(ti.gpregs as Entry), mask: mask & ~((1n << BigInt(SIG.SIGKILL - 1)) | (1n << BigInt(SIG.SIGSTOP - 1))) };
}
