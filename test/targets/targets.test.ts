// Builds and runs each zdtm-style target once, so the targets themselves are tested.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildTarget, parseReport, requestReport, startTarget, waitForFileLine } from '../helpers/targets.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('counter: counts, keeps its token, checks its memory', async (t) => {
  const dir = tmpDir('cryo-counter', t);
  const log = `${dir}/log`;
  const target = await startTarget([buildTarget('counter'), log, '4'], { t });
  const first = parseReport(await waitForFileLine(log, (l) => l.startsWith('count='), 5000));
  const later = parseReport(await waitForFileLine(log, (l) => Number(parseReport(l)['count']) > Number(first['count']) + 10, 5000));
  assert.equal(later['token'], first['token']);
  assert.match(first['token']!, /^[0-9a-f]{32}$/);
  assert.equal(later['mem'], 'ok');
  assert.equal(later['mib'], '4');
  assert.ok(parseReport(await requestReport(target.pid, log))['count']);
  await target.stop();
  await target.stop(); // idempotent
  assert.equal((await target.exited).signal, 'SIGKILL');
});

test('threads: every worker advances', async (t) => {
  const dir = tmpDir('cryo-threads', t);
  const log = `${dir}/log`;
  const target = await startTarget([buildTarget('threads'), log, '3'], { t });
  const a = parseReport(await requestReport(target.pid, log));
  await new Promise((r) => setTimeout(r, 100));
  const b = parseReport(await requestReport(target.pid, log));
  assert.equal(a['threads'], '3');
  assert.equal(a['main'], String(target.pid));
  assert.equal(b['tids'], a['tids']);
  const ca = a['counts']!.split(',').map(Number);
  const cb = b['counts']!.split(',').map(Number);
  assert.equal(cb.length, 3);
  cb.forEach((c, i) => assert.ok(c > ca[i]!, `thread ${i}: ${ca[i]} -> ${c}`));
});

test('sleeper: /bin/sleep is ready once it sleeps', async (t) => {
  const target = await startTarget(['/bin/sleep', '1000'], { t, ready: 'sleeping' });
  assert.equal(target.comm, 'sleep');
});

test('pipe_reader: SIGUSR1 feeds the blocked read', async (t) => {
  const dir = tmpDir('cryo-pipe', t);
  const log = `${dir}/log`;
  const target = await startTarget([buildTarget('pipe_reader'), log], { t });
  assert.match(await requestReport(target.pid, log), /^got 4 bytes total=4 reads=1 data=ping$/);
  assert.match(await requestReport(target.pid, log), /^got 4 bytes total=8 reads=2 data=ping$/);
});

test('sigstate: reports its signal and process state', async (t) => {
  const dir = tmpDir('cryo-sigstate', t);
  const log = `${dir}/log`;
  const target = await startTarget([buildTarget('sigstate'), log, dir], { t });
  const r = parseReport(await requestReport(target.pid, log));
  assert.match(r['usr1']!, /^[0-9a-f]+\/1c000000\/0000000400000002$/); // RESTART|ONSTACK|RESTORER; INT, RTMIN+1
  assert.match(r['usr2']!, /^[0-9a-f]+\/44000004\/0000000000000004$/); // SIGINFO|NODEFER|RESTORER; QUIT
  assert.match(r['pipe']!, /^ign\//);
  assert.equal(r['blocked'], '0000001000000001'); // HUP, RTMIN+3
  assert.equal(r['pending'], '0000000000000001'); // HUP
  assert.match(r['altstack']!, /^[0-9a-f]+\/65536\/0$/);
  assert.equal(r['itimer'], '50000/1');
  assert.equal(r['umask'], '0027');
  assert.match(r['nofile']!, /^512\/\d+$/);
  assert.equal(r['cwd'], dir);
  assert.equal(r['comm'], 'cryo-sigstate');
  assert.equal(target.comm, 'cryo-sigstate');
  await new Promise((res) => setTimeout(res, 200));
  const again = parseReport(await requestReport(target.pid, log));
  assert.ok(Number(again['alarms']) > Number(r['alarms']));
});

test('files: fds, flags, offsets and a deleted file', async (t) => {
  const dir = tmpDir('cryo-files', t);
  const log = `${dir}/report`;
  const target = await startTarget([buildTarget('files'), log, dir], { t });
  const r = parseReport(await requestReport(target.pid, log));
  const fd = (name: string) => {
    const [n, flags, cloexec, pos] = r[name]!.split('/');
    return { fd: Number(n), flags: parseInt(flags!, 8), cloexec: cloexec === '1', pos: Number(pos) };
  };
  assert.equal(fd('data').pos, 1000);
  assert.equal(fd('data').flags & 3, 2); // O_RDWR
  assert.ok(fd('log').flags & 0o2000); // O_APPEND
  assert.equal(fd('ghost').pos, 6);
  assert.deepEqual([fd('cloexec').cloexec, fd('cloexec').pos], [true, 77]);
  assert.deepEqual([fd('dup100').fd, fd('dup100').cloexec, fd('dup100').pos], [100, false, 77]);
  assert.equal(r['ghost_content'], `ghost:${target.pid}:hello`);
  assert.deepEqual([r['data_ok'], r['zero_ok'], r['shared_ok']], ['ok', 'ok', 'ok']);
  assert.equal(readFileSync(`${dir}/log.txt`, 'utf8'), 'first\nreport 1\n');
});

test('mmaps: every region checks out', async (t) => {
  const dir = tmpDir('cryo-mmaps', t);
  const log = `${dir}/log`;
  const target = await startTarget([buildTarget('mmaps'), log, dir], { t });
  const r = parseReport(await requestReport(target.pid, log));
  assert.equal(r['all'], 'ok', JSON.stringify(r));
  assert.equal(r['gen'], '1');
  assert.equal(parseReport(await requestReport(target.pid, log))['gen'], '2');
});
