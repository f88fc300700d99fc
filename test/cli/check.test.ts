// `cryo check` probes the kernel for real (through a helper process): on this machine every
// required feature is there, and the extras cryo's object modules rely on are reported by name.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCryo } from '../helpers/cryo.ts';

test('cryo check: "Looks good." and exit 0; --json lists every probe with its result', async () => {
  const plain = await runCryo(['check']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^Looks good\.$/m);
  const j = await runCryo(['check', '--json']);
  assert.equal(j.code, 0, j.stderr);
  const r = JSON.parse(j.stdout) as { ok: boolean; features: { name: string; ok: boolean; level: string; detail: string }[] };
  assert.equal(r.ok, true);
  const names = r.features.map((f) => f.name);
  for (const n of ['ptrace_seize', 'clone3_set_tid', 'prctl_mm_map', 'pidfd_getfd', 'vdso_movable', 'tcp_repair', 'network_lock', 'timer_restore_ids', 'inotify_setnextwd']) {
    assert.ok(names.includes(n), `probe ${n} missing from ${names.join(', ')}`);
  }
  for (const f of r.features.filter((x) => x.level === 'required')) assert.ok(f.ok, `${f.name}: ${f.detail}`);
});
