// /proc/PID/cgroup ("id:controllers:path" per hierarchy; "0::path" is cgroup v2) and the memory
// limit that applies to a process: its memory cgroup's and its ancestors', v1 or v2.
import fs from 'node:fs';
import path from 'node:path';
import { parseError, readProcText } from './io.ts';
import { readMountinfo, type MountInfo } from './mountinfo.ts';

export interface CgroupEntry {
  readonly id: number;
  readonly controllers: readonly string[];
  readonly path: string;
}

export function parseCgroups(text: string): CgroupEntry[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const m = /^(\d+):([^:]*):(\/.*)$/.exec(line);
      if (!m) throw parseError('cgroup', 'bad line', line);
      return { id: Number(m[1]), controllers: m[2] === '' ? [] : m[2]!.split(','), path: m[3]! };
    });
}

/** /proc/PID/cgroup, parsed. */
export function readCgroups(pid: number): CgroupEntry[] {
  return parseCgroups(readProcText(`/proc/${pid}/cgroup`));
}

/**
 * The mount point of the cgroup hierarchy named `name` as /proc/PID/cgroup names it
 * ("cpu,cpuacct", "name=systemd"; "" for cgroup v2), mounted at its root; undefined if none is.
 */
export function hierarchyMount(name: string, mounts: readonly MountInfo[]): string | undefined {
  if (name === '') return mounts.find((m) => m.fsType === 'cgroup2' && m.root === '/')?.mountPoint;
  const want = name.split(',');
  return mounts.find((m) => m.fsType === 'cgroup' && m.root === '/' && want.every((c) => m.superOptions.split(',').includes(c)))?.mountPoint;
}

/**
 * Where the memory cgroup of a process is in cryo's view, and which files hold its limit and
 * usage: the v1 memory hierarchy if the memory controller is mounted there, else cgroup v2.
 */
export function memoryCgroupDir(cgroups: readonly CgroupEntry[], mounts: readonly MountInfo[]): { dir: string; root: string; limit: string; usage: string } | undefined {
  const v1 = cgroups.find((c) => c.controllers.includes('memory'));
  if (v1) {
    const m = mounts.find((x) => x.fsType === 'cgroup' && x.superOptions.split(',').includes('memory') && x.root === '/');
    if (m) return { dir: path.join(m.mountPoint, v1.path), root: m.mountPoint, limit: 'memory.limit_in_bytes', usage: 'memory.usage_in_bytes' };
  }
  const v2 = cgroups.find((c) => c.id === 0 && c.controllers.length === 0);
  const m = mounts.find((x) => x.fsType === 'cgroup2' && x.root === '/');
  if (v2 && m) return { dir: path.join(m.mountPoint, v2.path), root: m.mountPoint, limit: 'memory.max', usage: 'memory.current' };
  return undefined;
}

/**
 * Bytes process `pid` may still charge to its memory cgroup before reaching the tightest limit of
 * it and its ancestors (Infinity: no limit, or none cryo can see). A file the process writes
 * puts its page cache there.
 */
export function memoryHeadroom(pid: number): number {
  const where = memoryCgroupDir(parseCgroups(readProcText(`/proc/${pid}/cgroup`)), readMountinfo(process.pid));
  if (!where) return Infinity;
  let room = Infinity;
  for (let dir = where.dir; dir.startsWith(where.root); dir = path.dirname(dir)) {
    const limit = readNumber(path.join(dir, where.limit));
    const usage = readNumber(path.join(dir, where.usage));
    if (limit !== undefined && usage !== undefined && limit < 2 ** 62) room = Math.min(room, limit - usage);
    if (dir === where.root) break;
  }
  return room;
}

/** A number from a cgroup file; undefined for 'max' or a file that isn't there. */
function readNumber(file: string): number | undefined {
  try {
    const v = fs.readFileSync(file, 'utf8').trim();
    return v === 'max' ? undefined : Number(v);
  } catch {
    return undefined;
  }
}
