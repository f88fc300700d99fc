// Programs nobody here wrote, checkpointed while they work and restored: a shell pipeline
// (sh, a producer and a consumer joined by a pipe) keeps flowing with no line lost or repeated.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readChildren, readStat } from '../../engine/proc/index.ts';
import { startTarget, waitForFileLine } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { PYTHON, assertUntouched, dumpOk, killAtEnd, restoreDetached, sleep, waitDumpedGone } from './e2e.ts';

const PRODUCER = `
import sys, time
i = 0
while True:
    i += 1
    sys.stdout.write(f'{i}\\n'); sys.stdout.flush()
    time.sleep(0.005)
`;
const CONSUMER = `
import sys
out = open(sys.argv[1], 'a', buffering=1)
first = True
for line in sys.stdin:
    out.write(line)
    if first:
        print('ready', flush=True)
        first = False
`;

function numbers(path: string): number[] {
  const text = readFileSync(path, 'utf8');
  return text.slice(0, text.lastIndexOf('\n')).split('\n').map(Number);
}

function assertConsecutive(ns: readonly number[]): void {
  for (let i = 0; i < ns.length; i++) assert.equal(ns[i], i + 1, `line ${i + 1} reads ${ns[i]} (lost or repeated lines)`);
}

test('a shell pipeline (producer | consumer) keeps flowing after restore, no line lost or repeated', async (t) => {
  const dir = tmpDir('cryo-e2e-pipeline', t);
  const out = join(dir, 'out.txt');
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = `${PYTHON} -u -c ${q(PRODUCER)} | ${PYTHON} -u -c ${q(CONSUMER)} ${q(out)}; exit 3`;
  const target = await startTarget(['/bin/sh', '-c', script], { t });
  const kids = readChildren(target.pid, target.pid);
  assert.equal(kids.length, 2, 'sh runs the producer and the consumer');
  for (const p of [target.pid, ...kids]) killAtEnd(t, p, readStat(p).comm);
  await waitForFileLine(out, (l) => Number(l) > 50);

  await dumpOk(target.pid, join(dir, 'img'));
  await waitDumpedGone(target);
  const atDump = numbers(out).length;
  await sleep(200);
  assert.equal(numbers(out).length, atDump, 'nothing runs between dump and restore');
  await restoreDetached(join(dir, 'img'));
  for (const p of [target.pid, ...kids]) assertUntouched(p, `${readStat(p).comm} ${p}`);
  assert.deepEqual(readChildren(target.pid, target.pid), kids, 'sh still has both as its children');

  await waitForFileLine(out, (l) => Number(l) > atDump + 100);
  assertConsecutive(numbers(out));
});
