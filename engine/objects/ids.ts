// ids-PID.img and inventory.root_ids: CRIU's small ids for shared kernel objects (mm, fd table,
// fs, signal handlers) and namespaces. Namespace ids are compared with cryo's own: a task in
// namespaces of its own would need them re-created, which cryo doesn't do yet.
import { readlinkSync } from 'node:fs';
import { UnsupportedError } from '../../errors.ts';
import { KCMP, kcmpShares } from '../../native/index.ts';
import type { IdAllocator } from '../context.ts';

type Entry = Record<string, any>;

const NAMESPACES = [
  ['pid', 'pid_ns_id'],
  ['net', 'net_ns_id'],
  ['ipc', 'ipc_ns_id'],
  ['uts', 'uts_ns_id'],
  ['mnt', 'mnt_ns_id'],
  ['user', 'user_ns_id'],
  ['cgroup', 'cgroup_ns_id'],
  ['time', 'time_ns_id'],
] as const;

function nsInode(pid: number | 'self', ns: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return undefined;
  }
}

export class KobjIds {
  readonly #ids: IdAllocator;
  readonly #ns = new Map<string, number>();
  /** ids of the processes seen so far: a process sharing an mm, fd table or fs with one gets its id. */
  readonly #tasks: { pid: number; ids: Entry }[] = [];
  constructor(ids: IdAllocator) {
    this.#ids = ids;
  }

  #nsIds(pid: number | 'self'): Entry {
    const e: Entry = {};
    for (const [ns, field] of NAMESPACES) {
      const ino = nsInode(pid, ns);
      if (ino === undefined) continue;
      let id = this.#ns.get(ino);
      if (id === undefined) {
        id = this.#ids.next();
        this.#ns.set(ino, id);
      }
      e[field] = id;
    }
    return e;
  }

  /** ids of the dumping process itself (inventory.root_ids). */
  root(): Entry {
    return { vm_id: this.#ids.next(), files_id: this.#ids.next(), fs_id: this.#ids.next(), sighand_id: this.#ids.next(), ...this.#nsIds('self') };
  }

  /** ids of one dumped task; refuses a task in namespaces other than cryo's. */
  task(pid: number): Entry {
    const mine = this.#nsIds('self');
    const its = this.#nsIds(pid);
    for (const [ns, field] of NAMESPACES) {
      if (ns === 'cgroup') continue;
      if (its[field] !== mine[field]) {
        throw new UnsupportedError(`${pid}: the task lives in its own ${ns} namespace`, { hint: 'namespaces are not supported yet: checkpoint processes that share cryo\'s namespaces' });
      }
    }
    const shared = (type: number, field: string): number => {
      const other = this.#tasks.find((t) => kcmpShares(t.pid, pid, type));
      return other ? (other.ids[field] as number) : this.#ids.next();
    };
    const ids: Entry = {
      vm_id: shared(KCMP.VM, 'vm_id'),
      files_id: shared(KCMP.FILES, 'files_id'),
      fs_id: shared(KCMP.FS, 'fs_id'),
      sighand_id: shared(KCMP.SIGHAND, 'sighand_id'),
      ...its,
    };
    const vmOwner = this.#tasks.find((t) => t.ids.vm_id === ids.vm_id);
    if (vmOwner) {
      throw new UnsupportedError(`${pid} shares its address space with ${vmOwner.pid} (CLONE_VM without CLONE_THREAD, e.g. a vfork child)`, {
        hint: 'wait until the vfork child has exec()ed, then dump again',
      });
    }
    this.#tasks.push({ pid, ids });
    return ids;
  }
}
