// bin/cryo, the launcher: Node starts without NODE_EXTRA_CA_CERTS (it would parse that CA bundle
// first), and what cryo runs gets the variable back exactly as it was — or still unset.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/repo.ts';
import { tmpDir } from '../helpers/tmp.ts';

function runWorkflow(dir: string, env: Record<string, string | undefined>): string {
  const out = join(dir, 'env.txt');
  const wf = join(dir, 'env.yaml');
  writeFileSync(
    wf,
    [
      'version: 1',
      'name: env',
      'steps:',
      '  - name: what a step sees',
      `    run: 'echo "extra=\${NODE_EXTRA_CA_CERTS-unset} saved=\${CRYO_NODE_EXTRA_CA_CERTS-unset}" > ${out}'`,
      '',
    ].join('\n'),
  );
  const base: NodeJS.ProcessEnv = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  const r = spawnSync(join(repoRoot(), 'bin', 'cryo'), ['run', wf], { env: base, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  return readFileSync(out, 'utf8').trim();
}

test('the launcher gives NODE_EXTRA_CA_CERTS back to the steps cryo runs, and leaves an unset one unset', (t) => {
  const dir = tmpDir('cryo-launcher', t);
  assert.equal(runWorkflow(dir, { NODE_EXTRA_CA_CERTS: '/etc/some bundle.pem', CRYO_NODE_EXTRA_CA_CERTS: undefined }), 'extra=/etc/some bundle.pem saved=unset');
  assert.equal(runWorkflow(dir, { NODE_EXTRA_CA_CERTS: '', CRYO_NODE_EXTRA_CA_CERTS: undefined }), 'extra= saved=unset');
  assert.equal(runWorkflow(dir, { NODE_EXTRA_CA_CERTS: undefined, CRYO_NODE_EXTRA_CA_CERTS: undefined }), 'extra=unset saved=unset');
});

test('Node under the launcher does not read the CA bundle NODE_EXTRA_CA_CERTS names', (t) => {
  const dir = tmpDir('cryo-launcher-ca', t);
  // A bundle Node could not parse: it warns on stderr when it loads it at start-up.
  const bad = join(dir, 'bad.pem');
  writeFileSync(bad, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, NODE_EXTRA_CA_CERTS: bad };
  const direct = spawnSync(process.execPath, [join(repoRoot(), 'bin', 'cryo.js'), '--version'], { env, encoding: 'utf8' });
  assert.match(direct.stderr, /extra certs/i, 'plain node loads the bundle (the premise of the launcher)');
  const launched = spawnSync(join(repoRoot(), 'bin', 'cryo'), ['--version'], { env, encoding: 'utf8' });
  assert.doesNotMatch(launched.stderr, /extra certs/i);
  assert.equal(launched.status, direct.status);
});

test('the launcher finds cryo when started through a symlink (as npm link makes), by a relative path, or as `sh cryo`', (t) => {
  const dir = tmpDir('cryo-launcher-link', t);
  const launcher = join(repoRoot(), 'bin', 'cryo');
  const link = join(dir, 'cryo');
  symlinkSync(launcher, link);
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  const demo = join(repoRoot(), 'workflows', 'demo.yaml');
  for (const [how, cmd, args, cwd] of [
    ['a symlink', link, ['validate', demo], dir],
    ['a relative path', './cryo', ['validate', demo], join(repoRoot(), 'bin')],
    ['sh cryo', 'sh', ['cryo', 'validate', demo], join(repoRoot(), 'bin')],
  ] as const) {
    const r = spawnSync(cmd, args, { env, cwd, encoding: 'utf8' });
    assert.equal(r.status, 0, `${how}: ${r.stderr}`);
    assert.match(r.stdout, /demo\.yaml: ok/, how);
  }
});
