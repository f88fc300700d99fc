// /proc/PID/cgroup and where a process's memory cgroup is, for cgroup v1 and v2 hosts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hierarchyMount, memoryCgroupDir, parseCgroups, parseMountinfo } from '../../../engine/proc/index.ts';

const V1 = `9:name=systemd:/
4:memory:/process_api/25a2
3:cpuset:/
1:cpu,cpuacct:/
0::/
`;
const V1_MOUNTS = `30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 25 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 25 0:36 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const V2 = `0::/system.slice/app.service
`;
const V2_MOUNTS = `29 24 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
`;

test('cgroup lines: hierarchy, controllers, path', () => {
  assert.deepEqual(parseCgroups(V1)[1], { id: 4, controllers: ['memory'], path: '/process_api/25a2' });
  assert.deepEqual(parseCgroups(V1)[3], { id: 1, controllers: ['cpu', 'cpuacct'], path: '/' });
  assert.deepEqual(parseCgroups(V2), [{ id: 0, controllers: [], path: '/system.slice/app.service' }]);
  assert.throws(() => parseCgroups('garbage\n'), /cgroup/);
});

test('the memory cgroup: the v1 memory hierarchy where it is mounted, else cgroup v2', () => {
  assert.deepEqual(memoryCgroupDir(parseCgroups(V1), parseMountinfo(V1_MOUNTS)), {
    dir: '/sys/fs/cgroup/memory/process_api/25a2',
    root: '/sys/fs/cgroup/memory',
    limit: 'memory.limit_in_bytes',
    usage: 'memory.usage_in_bytes',
  });
  assert.deepEqual(memoryCgroupDir(parseCgroups(V2), parseMountinfo(V2_MOUNTS)), {
    dir: '/sys/fs/cgroup/system.slice/app.service',
    root: '/sys/fs/cgroup',
    limit: 'memory.max',
    usage: 'memory.current',
  });
  // v1 without the memory controller mounted: the v2 hierarchy, if any.
  assert.equal(memoryCgroupDir(parseCgroups(V1), parseMountinfo(V1_MOUNTS.split('\n').filter((l) => !l.includes('memory')).join('\n').replace('cgroup2 cgroup2', 'cgroup cgroup'))), undefined);
});

test('the mount of a hierarchy: v1 by its controllers or name=, v2 for ""; none when not mounted', () => {
  const mounts = parseMountinfo(`${V1_MOUNTS}41 25 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
42 25 0:38 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
`);
  assert.equal(hierarchyMount('memory', mounts), '/sys/fs/cgroup/memory');
  assert.equal(hierarchyMount('cpu,cpuacct', mounts), '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(hierarchyMount('name=systemd', mounts), '/sys/fs/cgroup/systemd');
  assert.equal(hierarchyMount('', mounts), '/sys/fs/cgroup/unified');
  assert.equal(hierarchyMount('', parseMountinfo(V2_MOUNTS)), '/sys/fs/cgroup');
  assert.equal(hierarchyMount('pids', mounts), undefined);
});
