// `npm run bench`: how fast cryo dumps and restores, and (with CRIU_BIN) how that compares to CRIU.
//
// Each case is a small C target (test/targets/bench_*.c) started in its own session (setsid),
// stdout to a file. One run of a case, per tool:
//   start the target → `dump -R` (timed; the target must still run) → `dump` (kill, timed) →
//   `restore -d` of that dump (timed) → SIGUSR1: the restored target checks its memory / threads /
//   fds and reports ok → kill it.
// The first run of each case is a warm-up and is not counted. With CRIU_BIN the tools alternate
// run by run (cryo first on even runs, CRIU first on odd ones) so neither gets the warmer cache.
// Wall times are of the whole command (cryo: `bin/cryo …`, the launcher, including Node's
// start-up; CRIU: the binary), frozen times come from the dump statistics (stats-dump).
//
//   node dist/bench/run.js [--quick] [--case NAME]... [--runs N] [--baseline OTHER/bin/cryo.js] [--out DIR]
//
// --baseline runs a second cryo build (e.g. a copy of an earlier commit's bin/ + dist/) interleaved
// with this one, the same way as CRIU_BIN, so that an optimisation is measured A/B in the same
// minutes on a shared machine; the table then shows this build / baseline.
//
// A full run writes bench/results/latest.{md,json} and a copy under bench/results/history/;
// --quick / --case / --runs write bench/results/partial.{md,json} instead (--out: another directory).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImageFile } from '../engine/images/index.ts';

// ---------- repository, options ----------

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('no repository root above the bench script');
    dir = up;
  }
}

const ROOT = repoRoot();
const CRYO = join(ROOT, 'bin', 'cryo.js');
const RESULTS = join(ROOT, 'bench', 'results');
const MIB = 2 ** 20;

interface Options {
  quick: boolean;
  cases: string[];
  runs: number;
  runsGiven: boolean;
  baseline?: string;
  /** Where the results go (default bench/results). */
  out: string;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { quick: false, cases: [], runs: 5, runsGiven: false, out: RESULTS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--case' || a.startsWith('--case=')) o.cases.push(value());
    else if (a === '--baseline' || a.startsWith('--baseline=')) o.baseline = value();
    else if (a === '--out' || a.startsWith('--out=')) o.out = value();
    else if (a === '--runs' || a.startsWith('--runs=')) {
      o.runs = Number(value());
      o.runsGiven = true;
      if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs needs a positive integer');
    } else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node dist/bench/run.js [--quick] [--case NAME]... [--runs N] [--baseline OTHER/bin/cryo.js] [--out DIR]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  if (o.quick && !o.runsGiven) o.runs = 2;
  return o;
}

// ---------- cases ----------

interface CaseDef {
  readonly name: string;
  readonly what: string;
  readonly target: string;
  /** argv after the binary; `report` is the report file, `dir` a scratch directory. */
  readonly args: (report: string, dir: string) => string[];
  /** Dirty anonymous bytes the target holds (for MB/s); undefined: MB/s is not shown. */
  readonly dirtyBytes?: number;
  /** The report line a healthy target writes on SIGUSR1. */
  readonly ok: RegExp;
  readonly slow?: boolean;
}

const CASES: readonly CaseDef[] = [
  { name: 'mem-64M', what: '64 MiB dirty anonymous memory', target: 'bench_mem', args: (r) => [r, '64'], dirtyBytes: 64 * MIB, ok: /^mem=ok mib=64$/ },
  { name: 'mem-512M', what: '512 MiB dirty anonymous memory', target: 'bench_mem', args: (r) => [r, '512'], dirtyBytes: 512 * MIB, ok: /^mem=ok mib=512$/ },
  { name: 'mem-2G', what: '2 GiB dirty anonymous memory', target: 'bench_mem', args: (r) => [r, '2048'], dirtyBytes: 2048 * MIB, ok: /^mem=ok mib=2048$/, slow: true },
  { name: 'vmas-10k', what: '10,000 one-page VMAs, alternating rw/ro', target: 'bench_vmas', args: (r) => [r, '10000'], dirtyBytes: 10000 * 4096, ok: /^vmas=ok n=10000 / },
  { name: 'threads-100', what: '100 threads', target: 'bench_threads', args: (r) => [r, '100'], ok: /^threads=ok n=100 tasks=101$/ },
  { name: 'fds-1k', what: '1,000 open fds (/dev/null, regular files)', target: 'bench_fds', args: (r, d) => [r, d, '1000'], ok: /^fds=ok n=1000$/ },
];

// ---------- tools ----------

interface Tool {
  readonly name: 'cryo' | 'criu' | 'base';
  /** Table heading. */
  readonly label: string;
  dumpCmd(pid: number, dir: string, leaveRunning: boolean): string[];
  restoreCmd(dir: string): string[];
}

/**
 * How a user runs a cryo build: its launcher (bin/cryo, beside `cli`), or for an older build
 * without one, `node bin/cryo.js`.
 */
function cryoCommand(cli: string): string[] {
  const launcher = join(dirname(cli), 'cryo');
  return existsSync(launcher) ? [launcher] : [process.execPath, cli];
}

function cryoTool(name: 'cryo' | 'base', cli: string): Tool {
  const cmd = cryoCommand(cli);
  return {
    name,
    label: name === 'cryo' ? 'cryo' : 'baseline',
    dumpCmd: (pid, dir, r) => [...cmd, 'dump', '-t', String(pid), '-D', dir, ...(r ? ['-R'] : []), '--json'],
    restoreCmd: (dir) => [...cmd, 'restore', '-D', dir, '-d', '--json'],
  };
}

function criuTool(bin: string): Tool {
  // The targets are session leaders, so no --shell-job; logs go to the images directory.
  return {
    name: 'criu',
    label: 'CRIU',
    dumpCmd: (pid, dir, r) => [bin, 'dump', '-t', String(pid), '-D', dir, ...(r ? ['-R'] : []), '-o', 'dump.log'],
    restoreCmd: (dir) => [bin, 'restore', '-D', dir, '-d', '-o', 'restore.log'],
  };
}

// ---------- processes ----------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for `p` at most `ms`; the timer does not keep the process alive. */
const atMost = (p: Promise<unknown>, ms: number): Promise<unknown> => Promise.race([p, new Promise((r) => setTimeout(r, ms).unref())]);

interface CmdResult {
  readonly ms: number;
  readonly stdout: string;
}

/** Runs a command to completion; wall time from spawn to exit. Throws on failure or timeout. */
function runCmd(argv: readonly string[], timeoutMs: number): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // The launcher runs the `node` of PATH: the one running the bench.
    const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}` };
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
      err += `\n(killed after ${timeoutMs} ms)`;
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      if (code === 0) resolve({ ms, stdout: out });
      else reject(new Error(`${argv.slice(0, 3).join(' ')}… exited ${code ?? signal}: ${(err || out).trim().slice(-2000)}`));
    });
  });
}

/** Processes this bench started or restored, killed on the way out whatever happens. */
const live = new Set<number>();

function killQuiet(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

function procState(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

function procComm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

const isAlive = (pid: number): boolean => {
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
};

/** Kills a restored target (not our child: init reaps it) and waits until it is gone. */
async function killRestored(pid: number): Promise<void> {
  killQuiet(pid);
  for (let i = 0; i < 1000 && procState(pid) !== undefined; i++) await sleep(10);
  live.delete(pid);
}

interface Target {
  readonly pid: number;
  readonly comm: string;
  readonly report: string;
  readonly exited: Promise<void>;
  gone: boolean;
}

/** Starts a bench target in its own session, stdout/stderr to a file, and waits for "ready". */
async function startTarget(bin: string, args: readonly string[], dir: string): Promise<Target> {
  const outPath = join(dir, 'stdout');
  const outFd = openSync(outPath, 'a');
  const child = spawn(bin, args, { cwd: dir, detached: true, stdio: ['ignore', outFd, outFd] });
  closeSync(outFd);
  const pid = child.pid;
  let gone = false;
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => resolve());
    child.on('error', () => resolve());
  });
  void exited.then(() => (gone = true));
  if (pid === undefined) {
    await exited;
    throw new Error(`cannot start ${bin}`);
  }
  live.add(pid);
  const deadline = Date.now() + 120_000;
  while (!/^ready$/m.test(readFileSync(outPath, 'utf8'))) {
    if (gone || Date.now() > deadline) {
      killQuiet(pid);
      live.delete(pid);
      throw new Error(`${bin} ${gone ? 'exited' : 'timed out'} before ready: ${readFileSync(outPath, 'utf8').slice(-500)}`);
    }
    await sleep(10);
  }
  const t: Target = {
    pid,
    comm: procComm(pid) ?? '',
    report: args[0]!,
    exited,
    get gone() {
      return gone;
    },
  };
  return t;
}

/** SIGUSR1, then the next line the target appends to its report file. */
async function requestReport(pid: number, report: string, timeoutMs = 60_000): Promise<string> {
  const since = existsSync(report) ? statSync(report).size : 0;
  process.kill(pid, 'SIGUSR1');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(report) ? readFileSync(report).subarray(since).toString() : '';
    const nl = text.indexOf('\n');
    if (nl >= 0) return text.slice(0, nl);
    if (Date.now() > deadline) throw new Error(`no report from ${pid} after ${timeoutMs} ms`);
    if (!isAlive(pid)) throw new Error(`target ${pid} died before reporting`);
    await sleep(10);
  }
}

// ---------- one run ----------

function dirBytes(dir: string, only?: RegExp): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    if (only && !only.test(name)) continue;
    const st = statSync(join(dir, name), { throwIfNoEntry: false });
    if (st?.isFile()) n += st.size;
  }
  return n;
}

function readStats(file: string, key: 'dump' | 'restore'): Record<string, number> {
  const img = decodeImageFile(file);
  const entry = img.entries[0] as Record<string, Record<string, unknown>> | undefined;
  const raw = entry?.[key] ?? {};
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
}

interface DumpSample {
  readonly wallMs: number;
  readonly frozenUs: number;
  readonly imageBytes: number;
  readonly pagesBytes: number;
  readonly stats: Record<string, number>;
}

interface RestoreSample {
  readonly wallMs: number;
  readonly stats: Record<string, number>;
  readonly report: string;
}

interface RunResult {
  readonly tool: string;
  readonly run: number;
  readonly warmup: boolean;
  dumpR?: DumpSample;
  dump?: DumpSample;
  restore?: RestoreSample;
  restoreCopy?: RestoreSample;
  error?: string;
}

const OP_TIMEOUT = 300_000;

async function timedDump(tool: Tool, pid: number, dir: string, leaveRunning: boolean): Promise<DumpSample> {
  const r = await runCmd(tool.dumpCmd(pid, dir, leaveRunning), OP_TIMEOUT);
  const stats = tool.name !== 'criu' ? (JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>) : readStats(join(dir, 'stats-dump'), 'dump');
  return { wallMs: r.ms, frozenUs: Number(stats['frozen_time']), imageBytes: dirBytes(dir), pagesBytes: dirBytes(dir, /^pages-\d+\.img$/), stats: pick(stats) };
}

function pick(s: Record<string, unknown>): Record<string, number> {
  const keep = ['freezing_time', 'frozen_time', 'memdump_time', 'memwrite_time', 'pages_scanned', 'pages_written', 'image_bytes', 'forking_time', 'restore_time', 'pages_restored'];
  return Object.fromEntries(keep.filter((k) => s[k] !== undefined).map((k) => [k, Number(s[k])]));
}

/** `restore -d` of `img` (timed); the restored target must report `c.ok`. Leaves it running. */
async function timedRestore(tool: Tool, c: CaseDef, target: Target, img: string): Promise<RestoreSample> {
  const r = await runCmd(tool.restoreCmd(img), OP_TIMEOUT);
  let pid = target.pid;
  let stats: Record<string, number>;
  if (tool.name !== 'criu') {
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
    pid = Number(j['pid']);
    stats = pick(j);
  } else {
    stats = existsSync(join(img, 'stats-restore')) ? pick(readStats(join(img, 'stats-restore'), 'restore')) : {};
  }
  live.add(pid);
  if (pid !== target.pid) throw new Error(`restore: pid ${pid}, dumped ${target.pid}`);
  if (!isAlive(pid) || procComm(pid) !== target.comm) throw new Error(`restore: no live ${target.comm} with pid ${pid}`);
  const report = await requestReport(pid, target.report);
  if (!c.ok.test(report)) throw new Error(`restored target reports: ${report}`);
  return { wallMs: r.ms, stats, report };
}

async function oneRun(c: CaseDef, tool: Tool, bin: string, run: number, warmup: boolean, scratch: string): Promise<RunResult> {
  const res: RunResult = { tool: tool.name, run, warmup };
  const work = mkdtempSync(join(scratch, `${c.name}-${tool.name}-`));
  let target: Target | undefined;
  let restoredPid: number | undefined;
  try {
    target = await startTarget(bin, c.args(join(work, 'report'), work), work);
    const imgR = join(work, 'img-R');
    const img = join(work, 'img');
    res.dumpR = await timedDump(tool, target.pid, imgR, true);
    if (!isAlive(target.pid)) throw new Error(`dump -R: target ${target.pid} is not running afterwards`);
    rmSync(imgR, { recursive: true, force: true });

    res.dump = await timedDump(tool, target.pid, img, false);
    await atMost(target.exited, 10_000);
    if (!target.gone) throw new Error(`dump: target ${target.pid} still runs after the dump`);
    live.delete(target.pid);

    res.restore = await timedRestore(tool, c, target, img);
    restoredPid = target.pid;
    await killRestored(target.pid);
    restoredPid = undefined;
    // The same images as after a transfer: copied (new inodes), so every image is hashed against
    // the manifest before the task may run (a local restore trusts what this boot wrote; see README).
    const copy = join(work, 'img-copy');
    cpSync(img, copy, { recursive: true });
    rmSync(img, { recursive: true, force: true });
    res.restoreCopy = await timedRestore(tool, c, target, copy);
    restoredPid = target.pid;
  } catch (e) {
    res.error = (e as Error).message;
  } finally {
    if (restoredPid !== undefined) await killRestored(restoredPid);
    if (target && !target.gone) {
      killQuiet(target.pid);
      await atMost(target.exited, 10_000);
      live.delete(target.pid);
    }
    rmSync(work, { recursive: true, force: true });
  }
  return res;
}

// ---------- statistics, formatting ----------

interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

function spread(xs: readonly number[]): Spread | undefined {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const m = v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  return { median: m, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

interface OpSummary {
  readonly wallMs?: Spread;
  readonly frozenMs?: Spread;
  /** dirty bytes / median wall time, MB/s (10^6 B/s). */
  readonly mbps?: number;
  readonly imageBytes?: number;
  /** Median of each statistic the tool reported (stats-dump / stats-restore). */
  readonly stats: Record<string, number>;
  readonly failures: number;
}

type OpName = 'dump' | 'dumpR' | 'restore' | 'restoreCopy';
const OPS: readonly { op: OpName; label: string }[] = [
  { op: 'dump', label: 'dump' },
  { op: 'dumpR', label: 'dump -R' },
  { op: 'restore', label: 'restore' },
  { op: 'restoreCopy', label: 'restore (copy)' },
];
const isRestore = (op: OpName): boolean => op === 'restore' || op === 'restoreCopy';

function medianStats(all: readonly Record<string, number>[]): Record<string, number> {
  const keys = new Set(all.flatMap((s) => Object.keys(s)));
  return Object.fromEntries([...keys].map((k) => [k, spread(all.map((s) => s[k]!))?.median ?? NaN]));
}

function summarise(c: CaseDef, runs: readonly RunResult[]): Record<OpName, OpSummary> {
  const counted = runs.filter((r) => !r.warmup);
  const out = {} as Record<OpName, OpSummary>;
  for (const { op } of OPS) {
    const samples = counted.map((r) => r[op]).filter((s) => s !== undefined);
    const wall = spread(samples.map((s) => s.wallMs));
    const frozen = isRestore(op) ? undefined : spread((samples as DumpSample[]).map((s) => s.frozenUs / 1000));
    const image = isRestore(op) ? counted.map((r) => r.dump?.imageBytes).filter((x) => x !== undefined) : (samples as DumpSample[]).map((s) => s.imageBytes);
    out[op] = {
      wallMs: wall,
      frozenMs: frozen,
      mbps: c.dirtyBytes !== undefined && wall ? c.dirtyBytes / 1e6 / (wall.median / 1000) : undefined,
      imageBytes: spread(image)?.median,
      stats: medianStats(samples.map((s) => s.stats)),
      failures: counted.length - samples.length,
    };
  }
  return out;
}

const fmtMs = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`);

/** "1.23 s (1.10–1.40 s)", bounds in the median's unit. */
function fmtSpread(s: Spread | undefined): string {
  if (!s) return '—';
  const inSec = s.median >= 1000;
  const f = (x: number): string => (inSec ? (x / 1000).toFixed(2) : x >= 10 ? x.toFixed(0) : x.toFixed(1));
  return `${fmtMs(s.median)} (${f(s.min)}–${f(s.max)})`;
}

function fmtBytes(n: number | undefined): string {
  if (n === undefined) return '—';
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= MIB ? `${(n / MIB).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`;
}

const fmtRatio = (a: number | undefined, b: number | undefined): string => (a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}×` : '—');

interface CaseResult {
  readonly name: string;
  readonly what: string;
  readonly dirtyBytes?: number;
  readonly runs: RunResult[];
  readonly summary: Record<string, Record<OpName, OpSummary>>;
}

function markdownTable(results: readonly CaseResult[], other: Tool | undefined): string {
  const head = ['case', 'op', 'cryo wall', 'cryo frozen', 'cryo MB/s', 'image'];
  const o = other?.label;
  if (other) head.push(`${o} wall`, `${o} frozen`, `${o} MB/s`, `${o} image`, `wall cryo/${o}`, `frozen cryo/${o}`);
  const rows = [head, head.map(() => '---')];
  for (const r of results) {
    for (const { op, label } of OPS) {
      const a = r.summary['cryo']![op];
      const fail = (s: OpSummary): string => (s.failures ? ` ⚠${s.failures} failed` : '');
      const row = [r.name, label, fmtSpread(a.wallMs) + fail(a), isRestore(op) ? '—' : fmtSpread(a.frozenMs), a.mbps !== undefined ? a.mbps.toFixed(0) : '—', fmtBytes(a.imageBytes)];
      if (other) {
        const b = r.summary[other.name]![op];
        row.push(
          fmtSpread(b.wallMs) + fail(b),
          isRestore(op) ? '—' : fmtSpread(b.frozenMs),
          b.mbps !== undefined ? b.mbps.toFixed(0) : '—',
          fmtBytes(b.imageBytes),
          fmtRatio(a.wallMs?.median, b.wallMs?.median),
          isRestore(op) ? '—' : fmtRatio(a.frozenMs?.median, b.frozenMs?.median),
        );
      }
      rows.push(row);
    }
  }
  return rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** Where cryo's time goes: medians of its own statistics, in ms. */
function statsTable(results: readonly CaseResult[]): string {
  const ms = (us: number | undefined): string => (us === undefined || !Number.isFinite(us) ? '—' : us >= 10_000 ? (us / 1000).toFixed(0) : (us / 1000).toFixed(1));
  const rows = [
    ['case', 'op', 'freezing', 'frozen', 'memdump', 'memwrite', 'pages written', 'forking', 'restore_time', 'pages restored'],
  ];
  rows.push(rows[0]!.map(() => '---'));
  for (const r of results) {
    const sum = r.summary['cryo']!;
    for (const { op, label } of OPS) {
      const st = sum[op].stats;
      rows.push(
        isRestore(op)
          ? [r.name, label, '', '', '', '', '', ms(st['forking_time']), ms(st['restore_time']), String(st['pages_restored'] ?? '—')]
          : [r.name, label, ms(st['freezing_time']), ms(st['frozen_time']), ms(st['memdump_time']), ms(st['memwrite_time']), String(st['pages_written'] ?? '—'), '', '', ''],
      );
    }
  }
  return rows.map((x) => `| ${x.join(' | ')} |`).join('\n');
}

/** The line of a failure that says what went wrong (not a stack frame or a source excerpt). */
function firstErrorLine(msg: string): string {
  const lines = msg.split('\n');
  const head = lines[0]!.replace(/:[^:]*$/, '');
  const why = lines.find((l) => /\b(error|failed)\b/i.test(l) && !/^\s+at /.test(l));
  return why && why !== lines[0] ? `${head}: ${why.trim()}` : lines[0]!;
}

// ---------- main ----------

function buildTargets(names: readonly string[]): Map<string, string> {
  const outDir = join(tmpdir(), 'cryo-bench-targets');
  mkdirSync(outDir, { recursive: true });
  const srcDir = join(ROOT, 'test', 'targets');
  const bins = new Map<string, string>();
  for (const name of new Set(names)) {
    const src = join(srcDir, `${name}.c`);
    const bin = join(outDir, name);
    const newest = Math.max(statSync(src).mtimeMs, statSync(join(srcDir, 'target.h')).mtimeMs);
    if (!existsSync(bin) || statSync(bin).mtimeMs < newest) {
      execFileSync('gcc', ['-O2', '-pthread', '-Wall', '-o', `${bin}.tmp`, src], { stdio: ['ignore', 'inherit', 'inherit'] });
      execFileSync('mv', ['-f', `${bin}.tmp`, bin]);
    }
    bins.set(name, bin);
  }
  return bins;
}

function machine(): Record<string, string | number> {
  let rev = '';
  try {
    rev = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    /* not a checkout */
  }
  let dirty = '';
  try {
    dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'engine', 'native', 'cli', 'bin', 'errors.ts'], { encoding: 'utf8' }).trim() ? ' + uncommitted changes' : '';
  } catch {
    /* not a checkout */
  }
  rev += dirty;
  return { loadavg: loadavg().map((x) => x.toFixed(1)).join(' '), kernel: release(), cpus: cpus().length, cpu: cpus()[0]?.model ?? '', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, commit: rev, freePageReporting: freePageReporting() ? 'on' : 'off' };
}

/**
 * Whether a virtio balloon reports free pages to the host (VIRTIO_BALLOON_F_REPORTING, feature
 * bit 5): the host then takes back memory a few seconds after the guest frees it, and the next
 * use of it faults on the host — page-cache writes of the same 512 MiB take 0.1 s or 1.5 s
 * depending on what was freed just before.
 */
function freePageReporting(): boolean {
  const base = '/sys/bus/virtio/devices';
  try {
    return readdirSync(base).some((d) => {
      try {
        return readFileSync(join(base, d, 'device'), 'utf8').trim() === '0x0005' && readFileSync(join(base, d, 'features'), 'utf8')[5] === '1';
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Median wall time of a trivial command (3 runs after one warm-up). */
async function startupMs(argv: readonly string[]): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 4; i++) xs.push((await runCmd(argv, 30_000)).ms);
  return spread(xs.slice(1))!.median;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  let cases = CASES.filter((c) => !(opts.quick && c.slow));
  if (opts.cases.length) {
    cases = CASES.filter((c) => opts.cases.some((n) => c.name === n || c.name.startsWith(n)));
    if (!cases.length) throw new Error(`no case matches ${opts.cases.join(', ')}; cases: ${CASES.map((c) => c.name).join(', ')}`);
  }
  const criuBin = process.env['CRIU_BIN'];
  const tools: Tool[] = [cryoTool('cryo', CRYO)];
  if (criuBin && opts.baseline) throw new Error('CRIU_BIN and --baseline: one comparison at a time');
  if (opts.baseline) {
    if (!existsSync(opts.baseline)) throw new Error(`--baseline ${opts.baseline} does not exist`);
    tools.push(cryoTool('base', opts.baseline));
  }
  if (criuBin) {
    if (!existsSync(criuBin)) throw new Error(`CRIU_BIN=${criuBin} does not exist`);
    tools.push(criuTool(criuBin));
  }
  const bins = buildTargets(cases.map((c) => c.target));
  mkdirSync(opts.out, { recursive: true });
  // Images on the same filesystem as everything else, removed after each run.
  const startup = await startupMs([...cryoCommand(CRYO), '--help']);
  const nodeStartup = await startupMs([process.execPath, '-e', '0']);
  // Set in some environments (proxies): Node parses that CA bundle at every start.
  const extraCa = process.env['NODE_EXTRA_CA_CERTS'];
  const nodeStartupBare = extraCa === undefined ? undefined : await startupMs(['env', '-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0']);
  const scratch = mkdtempSync(join(tmpdir(), 'cryo-bench-'));
  process.stderr.write(`cryo bench: ${cases.map((c) => c.name).join(', ')}; 1 warm-up + ${opts.runs} runs; tools: ${tools.map((t) => t.name).join(', ')}; cryo CLI start-up ${fmtMs(startup)}\n`);

  const results: CaseResult[] = [];
  try {
    for (const c of cases) {
      const runs: RunResult[] = [];
      for (let i = 0; i <= opts.runs; i++) {
        const order = i % 2 ? [...tools].reverse() : tools;
        for (const tool of order) {
          const r = await oneRun(c, tool, bins.get(c.target)!, i, i === 0, scratch);
          runs.push(r);
          const f = (s: { wallMs: number } | undefined): string => (s ? fmtMs(s.wallMs) : '—');
          process.stderr.write(
            `  ${c.name} ${tool.name} ${i === 0 ? 'warm-up' : `run ${i}/${opts.runs}`}: dump ${f(r.dump)} (frozen ${r.dump ? fmtMs(r.dump.frozenUs / 1000) : '—'}), dump -R ${f(r.dumpR)} (frozen ${r.dumpR ? fmtMs(r.dumpR.frozenUs / 1000) : '—'}), restore ${f(r.restore)}, restore (copy) ${f(r.restoreCopy)}${r.error ? `  FAILED: ${r.error}` : ''}\n`,
          );
        }
      }
      const summary: Record<string, Record<OpName, OpSummary>> = {};
      for (const tool of tools) summary[tool.name] = summarise(c, runs.filter((r) => r.tool === tool.name));
      results.push({ name: c.name, what: c.what, dirtyBytes: c.dirtyBytes, runs, summary });
    }
  } finally {
    for (const pid of live) killQuiet(pid);
    rmSync(scratch, { recursive: true, force: true });
  }

  const elapsed = (Date.now() - t0) / 1000;
  const m = machine();
  const date = new Date().toISOString();
  const full = !opts.quick && !opts.cases.length && !opts.runsGiven && !opts.baseline;
  const table = markdownTable(results, tools[1]);
  // One line per distinct failure (first line of the message, scratch paths shortened).
  const failureRuns = new Map<string, string[]>();
  for (const r of results)
    for (const x of r.runs.filter((y) => y.error)) {
      const msg = `${r.name} ${x.tool}: ${firstErrorLine(x.error!).replaceAll(scratch, '$TMP').replace(/\/[\w.-]+-\w{6}\//g, '/…/')}`;
      failureRuns.set(msg, [...(failureRuns.get(msg) ?? []), x.warmup ? 'warm-up' : `run ${x.run}`]);
    }
  const failures = [...failureRuns].map(([msg, which]) => `- ${msg} (${which.join(', ')})`);
  const md = [
    `# cryo benchmark${full ? '' : ' (partial run)'}`,
    '',
    `${date} · kernel ${m['kernel']} · ${m['cpus']} × ${m['cpu']} · ${m['memGiB']} GiB · Node ${m['node']} · commit ${m['commit']} · load average at the end ${m['loadavg']}` + (criuBin ? ` · CRIU ${criuBin}` : '') + (opts.baseline ? ` · baseline ${opts.baseline}` : ''),
    '',
    ...(m['freePageReporting'] === 'on'
      ? [
          'This VM\'s balloon reports free pages to the host: memory freed more than ~2 s before is faulted in from the host again when it is next used, so page-cache writes (memwrite) and the restores of large targets vary a lot from run to run (the same 512 MiB written in 0.1 s or 1.5 s). Compare medians, and tools in the same run.',
          '',
        ]
      : []),
    `Medians of ${opts.runs} runs after 1 warm-up, (min–max) in the median's unit. **wall**: the whole command` +
      ` (\`bin/cryo dump|restore …\`, including the CLI's start-up: \`bin/cryo --help\` takes ${fmtMs(startup)}, \`node -e 0\` ${fmtMs(nodeStartup)}` +
      (nodeStartupBare === undefined ? '' : `, or ${fmtMs(nodeStartupBare)} without the NODE_EXTRA_CA_CERTS this environment sets (Node parses that CA bundle at start; bin/cryo starts Node without it and gives it back to what cryo runs)`) +
      '); **frozen**: frozen_time from stats-dump;' +
      ' **MB/s**: dirty bytes the target holds / median wall time (10^6 B/s); **image**: size of the images directory.' +
      ' dump = dump that kills the target; dump -R = --leave-running; restore = `restore -d` of the killed dump, then the restored target checks its memory/threads/fds; restore (copy) = the same from a copy of the images (new inodes, as after a transfer), so every image is hashed against the manifest first — a local restore trusts the large images this boot wrote and nobody changed since.',
    '',
    ...results.map((r) => `- **${r.name}**: ${r.what}`),
    '',
    table,
    '',
    '## cryo statistics',
    '',
    'Medians of what cryo reports (stats-dump / stats-restore), in ms; times in the frozen column above that are not memdump + memwrite are fixed costs while frozen.',
    '',
    statsTable(results),
    '',
    ...(failures.length ? ['## Failures', '', ...failures, ''] : []),
    `Total bench time ${elapsed.toFixed(0)} s.`,
    '',
  ].join('\n');
  const json = { date, machine: m, criu: criuBin ?? null, baseline: opts.baseline ?? null, runs: opts.runs, warmups: 1, cliStartupMs: startup, nodeStartupMs: nodeStartup, nodeStartupWithoutExtraCaMs: nodeStartupBare ?? null, elapsedSec: elapsed, cases: results };
  const jsonText = `${JSON.stringify(json, null, 1)}\n`;
  if (full) {
    writeFileSync(join(opts.out, 'latest.md'), md);
    writeFileSync(join(opts.out, 'latest.json'), jsonText);
    const hist = join(opts.out, 'history');
    mkdirSync(hist, { recursive: true });
    const stamp = date.replace(/[:.]/g, '-');
    writeFileSync(join(hist, `${stamp}.md`), md);
    writeFileSync(join(hist, `${stamp}.json`), jsonText);
  } else {
    writeFileSync(join(opts.out, 'partial.md'), md);
    writeFileSync(join(opts.out, 'partial.json'), jsonText);
  }
  process.stdout.write(`${md}\n`);
  if (failures.length) process.exitCode = 1;
}

process.on('SIGINT', () => {
  for (const pid of live) killQuiet(pid);
  process.exit(130);
});

main().catch((e: unknown) => {
  for (const pid of live) killQuiet(pid);
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exit(1);
});
