// `cryo check`: a table of named probes of the kernel features the engine relies on, each run
// for real against a helper process (CRIU's cr-check.c feature_list).
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { AF, NR, PR, SIG, SOCK, SOL, TCP, getRseqConfig, closeFd, setsockoptInt, socket, sys, lastErrno, copyFdOf, PAGE_IS, pagemapScan } from '../native/index.ts';
import { pickLockMethod } from './objects/net-lock.ts';
import { startHelper, type Helper } from './helper.ts';
import { RemoteProcess, findVdsoSyscall } from './remote.ts';
import { killTraced } from './tree.ts';
import { readSmaps } from './proc/index.ts';

export interface FeatureResult {
  readonly name: string;
  readonly ok: boolean;
  /** required: dump/restore can't work without it; extra: some trees or options need it. */
  readonly level: 'required' | 'extra';
  readonly detail: string;
}

interface Probe {
  readonly name: string;
  readonly level: 'required' | 'extra';
  run(h: HelperSession): string; // throws when missing
}

interface HelperSession {
  readonly helper: Helper;
  readonly remote: RemoteProcess;
}

function freePid(): number {
  const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  for (let p = Math.floor(max * 0.9); p > 300; p--) if (!existsSync(`/proc/${p}`)) return p;
  throw new Error('no free pid');
}

const PROBES: readonly Probe[] = [
  { name: 'ptrace_seize', level: 'required', run: () => 'PTRACE_SEIZE + PTRACE_INTERRUPT' },
  {
    name: 'clone3_set_tid',
    level: 'required',
    run: ({ remote }) => {
      const want = freePid();
      const r = remote.clone3WithTid(want, 0, SIG.SIGCHLD);
      if (r < 0n) throw new Error(`clone3 failed: errno ${-r}`);
      killTraced([Number(r)]);
      if (Number(r) !== want) throw new Error(`asked for pid ${want}, got ${r}`);
      return `created pid ${want}`;
    },
  },
  {
    name: 'prctl_mm_map',
    level: 'required',
    run: ({ remote }) => {
      remote.leader.call('prctl', NR.prctl, 35 /* PR_SET_MM */, 15 /* PR_SET_MM_MAP_SIZE */, remote.scratch, 0, 0);
      const size = remote.get(0, 4).readUInt32LE(0);
      if (size !== 104) throw new Error(`sizeof(struct prctl_mm_map) is ${size}, cryo knows 104`);
      return 'PR_SET_MM_MAP (struct of 104 bytes)';
    },
  },
  {
    name: 'pidfd_getfd',
    level: 'required',
    run: ({ helper }) => {
      closeFd(copyFdOf(helper.pid, 0));
      return 'pidfd_open + pidfd_getfd';
    },
  },
  {
    name: 'get_rseq_conf',
    level: 'required',
    run: ({ helper }) => {
      const c = getRseqConfig(helper.pid);
      return c.rseqAbiPointer ? `rseq area at 0x${c.rseqAbiPointer.toString(16)}` : 'supported (helper has no rseq)';
    },
  },
  {
    name: 'vdso_movable',
    level: 'required',
    run: ({ helper }) => {
      const v = readSmaps(helper.pid).find((e) => e.path === '[vdso]');
      if (v?.vmFlags.includes('sl')) throw new Error('the vDSO is sealed (CONFIG_MSEAL_SYSTEM_MAPPINGS): cryo cannot move it to the dumped address');
      return v ? 'vDSO not sealed' : 'no vDSO';
    },
  },
  {
    name: 'mem_dirty_track',
    level: 'extra',
    run: () => {
      // Soft-dirty (bit 55) or PAGEMAP_SCAN: needed for incremental dumps (pre-dump).
      const fd = openSync('/proc/self/pagemap', 'r');
      try {
        pagemapScan(fd, { start: 0n, end: 0n, returned: PAGE_IS.PRESENT }, new BigUint64Array(0));
        return 'PAGEMAP_SCAN (no soft-dirty on this kernel is fine)';
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOTTY') throw new Error('neither soft-dirty nor PAGEMAP_SCAN');
        throw e;
      } finally {
        closeSync(fd);
      }
    },
  },
  {
    name: 'tcp_repair',
    level: 'extra',
    run: () => {
      const fd = socket(AF.INET, SOCK.STREAM | SOCK.CLOEXEC);
      try {
        setsockoptInt(fd, SOL.TCP, TCP.REPAIR, 1);
        return 'TCP_REPAIR (--tcp-established)';
      } finally {
        closeFd(fd);
      }
    },
  },
  {
    name: 'network_lock',
    level: 'extra',
    run: () => `${pickLockMethod()} (network lock for --tcp-established)`,
  },
  {
    name: 'timer_restore_ids',
    level: 'extra',
    run: ({ remote }) => {
      // Without it POSIX timer ids are found by creating and deleting timers until they match.
      const on = remote.leader.raw(NR.prctl, PR.TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0);
      if (on < 0n) throw new Error(`PR_TIMER_CREATE_RESTORE_IDS: errno ${-on} (timer ids are matched the slow way)`);
      remote.leader.raw(NR.prctl, PR.TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
      return 'PR_TIMER_CREATE_RESTORE_IDS (POSIX timers keep their ids)';
    },
  },
  {
    name: 'inotify_setnextwd',
    level: 'extra',
    run: ({ remote }) => {
      const t = remote.leader;
      const fd = t.call('inotify_init1', NR.inotify_init1, 0);
      try {
        const r = t.raw(NR.ioctl, fd, 0x40044900 /* INOTIFY_IOC_SETNEXTWD */, 7);
        if (r < 0n) throw new Error(`INOTIFY_IOC_SETNEXTWD: errno ${-r} (watch descriptors are matched the slow way)`);
        return 'INOTIFY_IOC_SETNEXTWD (inotify keeps its watch descriptors)';
      } finally {
        t.raw(NR.close, fd);
      }
    },
  },
  {
    name: 'uffd',
    level: 'extra',
    run: () => {
      const fd = sys.syscall(NR.userfaultfd, 0o2000000 | 0o4000, 0, 0, 0, 0, 0);
      if (fd < 0) throw new Error(`userfaultfd: errno ${lastErrno()}`);
      closeFd(fd);
      return 'userfaultfd (lazy restore)';
    },
  },
];

export function checkKernel(): FeatureResult[] {
  const results: FeatureResult[] = [];
  let session: HelperSession | undefined;
  try {
    const helper = startHelper();
    const remote = new RemoteProcess(helper.pid, findVdsoSyscall(helper.pid));
    remote.mapScratch();
    session = { helper, remote };
  } catch (e) {
    results.push({ name: 'ptrace_seize', ok: false, level: 'required', detail: (e as Error).message });
    return results;
  }
  try {
    for (const p of PROBES) {
      try {
        results.push({ name: p.name, ok: true, level: p.level, detail: p.run(session) });
      } catch (e) {
        results.push({ name: p.name, ok: false, level: p.level, detail: (e as Error).message });
      }
    }
  } finally {
    session.helper.kill();
  }
  return results;
}
