// /proc/PID/cgroup and where a process's memory cgroup is, for cgroup v1 and v2 hosts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryCgroupDir, parseCgroups, parseMountinfo } from '../../../engine/proc/index.ts';

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
