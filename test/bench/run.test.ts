// The bench harness itself (not a timing test): with CRIU_BIN it runs a second tool interleaved
// with cryo and reports both and their ratio. No CRIU that can dump runs on this kernel, so
// cryo's own CLI stands in for it — it takes CRIU's dump/restore options and writes CRIU's
// stats-dump / stats-restore, which is all the harness asks of a CRIU binary.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../../runner/paths.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('npm run bench with CRIU_BIN: both tools per case, interleaved, with cryo/CRIU ratios, in Markdown and JSON', async (t) => {
  const out = tmpDir('cryo-bench-out', t);
  const root = repoRoot();
  const r = await promisify(execFile)(process.execPath, [join(root, 'dist', 'bench', 'run.js'), '--case', 'fds-1k', '--runs', '1', '--out', out], {
    env: { ...process.env, CRIU_BIN: join(root, 'bin', 'cryo.js') },
    timeout: 240_000,
  });
  const md = readFileSync(join(out, 'partial.md'), 'utf8');
  assert.ok(r.stdout.includes(md.trim()), 'what is written is printed');
  const header = md.split('\n').find((l) => l.startsWith('| case | op |'))!;
  assert.match(header, /CRIU wall/);
  assert.match(header, /cryo\/CRIU/);
  for (const op of ['dump', 'dump -R', 'restore', 'restore (copy)']) {
    const row = md.split('\n').find((l) => l.startsWith(`| fds-1k | ${op} |`));
    assert.ok(row, `no row for ${op}`);
    assert.match(row, /\d\.\d\d×/, `no ratio in ${row}`);
  }
  const json = JSON.parse(readFileSync(join(out, 'partial.json'), 'utf8'));
  assert.equal(json.criu, join(root, 'bin', 'cryo.js'));
  const c = json.cases[0];
  assert.equal(c.name, 'fds-1k');
  // Warm-up + 1 run per tool, alternating which goes first.
  assert.deepEqual(c.runs.map((x: { tool: string }) => x.tool), ['cryo', 'criu', 'criu', 'cryo']);
  for (const tool of ['cryo', 'criu']) {
    for (const op of ['dump', 'dumpR', 'restore', 'restoreCopy']) {
      assert.equal(c.summary[tool][op].failures, 0, `${tool} ${op} failed`);
      assert.ok(c.summary[tool][op].wallMs.median > 0);
    }
  }
});
