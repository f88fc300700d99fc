// cgroup membership (cgroup.img sets, core_entry.tc.cg_set), as CRIU's --manage-cgroups in its
// default soft mode: each process goes back into the cgroups it was in — a service into its
// slice, under its memory and CPU limits — made if missing, before its memory is filled so its
// pages are charged there. Only membership: the cgroups' own settings are the host's.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../../errors.ts';
import type { DumpContext, RestoreContext } from '../context.ts';
import { hierarchyMount, readCgroups, readMountinfo } from '../proc/index.ts';

type Entry = Record<string, any>;

/** How the restore handles cgroups: 'soft' (CRIU's default: into the dumped ones, made if missing) or 'ignore'. */
export type CgroupMode = 'soft' | 'ignore';

/** A set: its hierarchies (as /proc/PID/cgroup names them) and paths, in a stable order. */
function setOf(pid: number): { name: string; path: string }[] {
  return readCgroups(pid)
    .map((c) => ({ name: c.controllers.join(','), path: c.path }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The cgroup set id of process `pid` (cryo's own with process.pid), one per distinct set. */
export function cgroupSetOf(ctx: DumpContext, pid: number): number {
  const ctls = setOf(pid);
  const key = JSON.stringify(ctls);
  let set = ctx.cgroupSets.get(key);
  if (!set) {
    set = { id: ctx.cgroupSets.size + 1, ctls };
    ctx.cgroupSets.set(key, set);
  }
  return set.id;
}

/** cgroup.img, once every process is dumped. */
export function writeCgroups(ctx: DumpContext): void {
  ctx.images.write('CGROUP', [{ sets: [...ctx.cgroupSets.values()].map((s) => ({ id: s.id, ctls: s.ctls })), controllers: [] }]);
}

/**
 * Moves new process `pid` into the cgroups of set `setId` (before it runs or its memory is
 * filled). A hierarchy this host has no mount for is skipped with a warning; one it can't move
 * the process into fails the restore.
 */
export function restoreCgroups(ctx: RestoreContext, pid: number, setId: number | undefined): void {
  if (ctx.cgroupMode === 'ignore' || setId === undefined) return;
  if (!ctx.cgroupSets) {
    const [img] = (ctx.images.readOptional('CGROUP') ?? []) as Entry[];
    ctx.cgroupSets = {
      sets: new Map(((img?.sets ?? []) as Entry[]).map((s) => [Number(s.id), (s.ctls ?? []) as { name: string; path: string }[]])),
      mounts: readMountinfo(process.pid),
    };
  }
  const { sets, mounts } = ctx.cgroupSets;
  const ctls = sets.get(setId);
  if (!ctls) return; // images of an older cryo: no sets
  const now = new Map(setOf(pid).map((c) => [c.name, c.path]));
  for (const { name, path } of ctls) {
    if (now.get(name) === path) continue; // already there (cryo's own cgroup)
    const root = hierarchyMount(name, mounts);
    if (root === undefined) {
      ctx.log.warn(`${pid}: no cgroup hierarchy "${name || 'cgroup2'}" is mounted here: left where it is, not in ${path}`);
      continue;
    }
    const dir = join(root, path);
    // A frozen cgroup (v1 freezer.state, v2 cgroup.freeze) would stop the process in the middle of
    // its restore, cryo waiting on it for ever.
    if (isFrozen(dir)) {
      ctx.log.warn(`${pid}: cgroup ${dir} is frozen: the process is left where it is`);
      continue;
    }
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'cgroup.procs'), `${pid}\n`);
    } catch (e) {
      throw new RuntimeError(`${pid}: can't move into cgroup ${dir}: ${(e as Error).message}`, {
        cause: e,
        hint: 'restore with --manage-cgroups=ignore to leave the processes in cryo\'s own cgroups',
      });
    }
    ctx.log.debug(`${pid}: into cgroup ${dir}`);
  }
}

/** Whether the cgroup at `dir` (if it exists) is frozen or freezing. */
function isFrozen(dir: string): boolean {
  for (const [file, frozen] of [['freezer.state', /^(FROZEN|FREEZING)/], ['cgroup.freeze', /^1/]] as const) {
    try {
      if (frozen.test(readFileSync(join(dir, file), 'utf8'))) return true;
    } catch {
      /* not that kind of cgroup, or not there yet */
    }
  }
  return false;
}
