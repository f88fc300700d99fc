// bin/cryo.cjs compiles the CLI bundle with a V8 code cache per command beside it: written after
// the command's first successful run, used while it belongs to the same bundle and Node, and never
// trusted when it does not check out. The tests run a copy of the entry and the bundle, so the
// repository's own cache is not touched.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/repo.ts';
import { tmpDir } from '../helpers/tmp.ts';

interface Install {
  readonly run: (args: readonly string[], env?: Record<string, string>) => { status: number | null; stdout: string; stderr: string };
  /** The cache file of a command. */
  readonly cache: (command: string) => string;
}

function install(prefix: string, t: Parameters<typeof tmpDir>[1]): Install {
  const dir = tmpDir(prefix, t);
  const root = repoRoot();
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist', 'bundle'), { recursive: true });
  copyFileSync(join(root, 'bin', 'cryo.cjs'), join(dir, 'bin', 'cryo.cjs'));
  copyFileSync(join(root, 'dist', 'bundle', 'main.cjs'), join(dir, 'dist', 'bundle', 'main.cjs'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  symlinkSync(join(root, 'schemas'), join(dir, 'schemas'));
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  const run: Install['run'] = (args, env = {}) => {
    const r = spawnSync(process.execPath, [join(dir, 'bin', 'cryo.cjs'), ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return { run, cache: (command) => join(dir, 'dist', 'bundle', `main.cjs.${command}.v8cache`) };
}

function header(cache: string): { key: string; sha256: string } {
  const buf = readFileSync(cache);
  return JSON.parse(buf.subarray(0, buf.indexOf(10)).toString('utf8')) as { key: string; sha256: string };
}

const workflow = (): string => join(repoRoot(), 'workflows', 'demo.yaml');

test('a command\'s code cache is written after its first successful run, then used as it is', (t) => {
  const cryo = install('cryo-code-cache', t);
  assert.equal(cryo.run(['validate', workflow()]).status, 0);
  const first = statSync(cryo.cache('validate'));

  // Accepted by V8: not written again.
  const again = cryo.run(['validate', workflow()]);
  assert.equal(again.status, 0, again.stderr);
  const second = statSync(cryo.cache('validate'));
  assert.equal(second.ino, first.ino);
  assert.equal(second.mtimeMs, first.mtimeMs);

  // Another command has its own, for the same bundle.
  assert.equal(cryo.run(['schema']).status, 0);
  assert.equal(header(cryo.cache('schema')).key, header(cryo.cache('validate')).key);
  assert.equal(statSync(cryo.cache('validate')).mtimeMs, first.mtimeMs);
});

test('a failed command writes no cache, and CRYO_CODE_CACHE=0 neither writes nor reads one', (t) => {
  const cryo = install('cryo-code-cache-off', t);
  const bad = cryo.run(['validate', join(repoRoot(), 'no-such-workflow.yaml')]);
  assert.notEqual(bad.status, 0);
  assert.equal(existsSync(cryo.cache('validate')), false);
  assert.equal(cryo.run(['validate', workflow()], { CRYO_CODE_CACHE: '0' }).status, 0);
  assert.equal(existsSync(cryo.cache('validate')), false);
});

test('a cache that does not check out is not used, and is replaced', async (t) => {
  for (const [what, spoil] of [
    ['a flipped byte in V8\'s data', (buf: Buffer): Buffer => {
      const copy = Buffer.from(buf);
      copy[copy.length - 100]! ^= 0xff;
      return copy;
    }],
    ['another bundle\'s key', (buf: Buffer): Buffer => Buffer.from(buf.toString('latin1').replace(/"key":"[0-9a-f]{8}/, '"key":"00000000'), 'latin1')],
    ['a truncated file', (buf: Buffer): Buffer => buf.subarray(0, buf.length >> 1)],
    ['no header', (buf: Buffer): Buffer => buf.subarray(buf.indexOf(10) + 1)],
  ] as const) {
    await t.test(what, (tt) => {
      const cryo = install('cryo-code-cache-bad', tt);
      const cache = cryo.cache('validate');
      assert.equal(cryo.run(['validate', workflow()]).status, 0);
      const good = header(cache);
      writeFileSync(cache, spoil(readFileSync(cache)));
      const r = cryo.run(['validate', workflow()]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /demo.yaml: ok \(6 steps\)/);
      // Written afresh: this bundle's key, a checksum that matches its data.
      const now = header(cache);
      assert.equal(now.key, good.key);
      const buf = readFileSync(cache);
      assert.equal(spawnSync('sha256sum', { input: buf.subarray(buf.indexOf(10) + 1), encoding: 'utf8' }).stdout.split(' ')[0], now.sha256);
    });
  }
});

test('without a built bundle cryo says how to build it', (t) => {
  const dir = tmpDir('cryo-unbuilt', t);
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(repoRoot(), 'bin', 'cryo.cjs'), join(dir, 'bin', 'cryo.cjs'));
  const r = spawnSync(process.execPath, [join(dir, 'bin', 'cryo.cjs'), '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cryo is not built/);
  assert.match(r.stderr, /npm ci/);
});

test('the CLI bundle is ASCII, as bin/cryo.cjs reads it (latin1), and non-ASCII output comes out right', (t) => {
  const bytes = readFileSync(join(repoRoot(), 'dist', 'bundle', 'main.cjs'));
  const at = bytes.findIndex((b) => b > 0x7f);
  assert.equal(at, -1, `non-ASCII byte at ${at}`);
  const wf = join(tmpDir('cryo-ascii', t), 'one.yaml');
  writeFileSync(wf, 'version: 1\nname: one\nsteps:\n  - name: nothing\n    run: "true"\n');
  const r = spawnSync(process.execPath, [join(repoRoot(), 'bin', 'cryo.cjs'), 'run', wf], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /\u2713 nothing/, 'the step is marked done with a check mark');
});
