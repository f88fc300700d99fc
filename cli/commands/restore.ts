// `cryo restore -D DIR`: CRIU's restore. Without -d it waits for the restored process and exits
// with its status; --exec-cmd replaces cryo with CMD, which becomes the restored root's parent.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { InputError } from '../../errors.ts';
import { fmtUs, loggerFor, progressReporter, withLogOptions, type LogArgs } from '../common.ts';

interface Args extends LogArgs {
  readonly 'images-dir': string;
  readonly 'restore-detached'?: boolean;
  readonly pidfile?: string;
  readonly 'shell-job'?: boolean;
  readonly 'tcp-established'?: boolean;
  readonly 'tcp-close'?: boolean;
  readonly 'manage-cgroups'?: string;
  readonly 'verify-images'?: boolean;
  readonly 'leave-stopped'?: boolean;
  readonly 'action-script'?: string[];
  readonly 'exec-cmd'?: boolean;
  readonly 'print-stats'?: boolean;
  readonly json?: boolean;
  readonly '--'?: string[];
}

export const restoreCommand: CommandModule<object, Args> = {
  command: 'restore',
  describe: 'Restore a process from its images (or a .tar/.tar.gz archive of them)',
  builder: (y) =>
    withLogOptions(y)
      .option('images-dir', { alias: 'D', type: 'string', default: '.', describe: 'images directory, or an archive made by a transfer' })
      .option('restore-detached', { alias: ['d', 'daemon'], type: 'boolean', describe: 'exit after the restore instead of waiting for the process' })
      .option('pidfile', { type: 'string', describe: 'write the restored pid to this file' })
      .option('shell-job', { alias: 'j', type: 'boolean', describe: 'restore a shell job into cryo\'s session' })
      .option('tcp-established', { type: 'boolean', describe: 'checkpoint/restore established TCP connections (repair mode; the network is locked for them in between)' })
      .option('file-locks', { alias: 'l', type: 'boolean', describe: 'take the dumped flock/POSIX/OFD locks again (cryo always does when the images hold them; accepted as in `criu restore -l`)' })
      .option('ext-unix-sk', { alias: 'x', type: 'boolean', describe: 'connect sockets saved with `dump --ext-unix-sk` to their outside peer again (always done; accepted as in `criu restore -x`)' })
      .option('tcp-close', { type: 'boolean', describe: 'established TCP connections of the images come back closed (needed for a dump made with --tcp-close)' })
      .option('manage-cgroups', { type: 'string', describe: 'soft (default, also with no value): each process back into the cgroups it was dumped in, made if missing; ignore: left in cryo\'s' })
      .option('verify-images', { type: 'boolean', describe: 'hash every image against the manifest, also pages this host wrote and nobody changed since (trusted by default)' })
      .option('leave-stopped', { alias: 's', type: 'boolean', describe: 'leave the restored process stopped (SIGSTOP)' })
      .option('action-script', { type: 'string', array: true, describe: 'script run at each action (CRTOOLS_SCRIPT_ACTION); repeatable' })
      .option('exec-cmd', { type: 'boolean', describe: 'after the restore, exec the command given after `--` as its parent' })
      .option('print-stats', { alias: 'display-stats', type: 'boolean', describe: 'print the restore statistics' })
      .option('json', { type: 'boolean', describe: 'print the result and statistics as JSON' }) as never,
  handler: async (argv) => {
    const execCmd = argv['--'] ?? [];
    if (argv['exec-cmd'] && !execCmd.length) throw new InputError('--exec-cmd needs a command after `--`');
    if (argv['exec-cmd'] && argv['restore-detached']) throw new InputError('--exec-cmd and -d/--restore-detached exclude each other');
    let dir = argv['images-dir'];
    let unpacked: string | undefined;
    if (statSync(dir, { throwIfNoEntry: false })?.isFile()) {
      unpacked = mkdtempSync(join(tmpdir(), 'cryo-restore-'));
      const { unpackImages } = await import('../../runner/index.ts');
      await unpackImages(dir, unpacked);
      dir = unpacked;
    }
    const log = await loggerFor(argv, dir);
    const { actionScripts, execAfterRestore, restore } = await import('../../engine/index.ts');
    const progress = progressReporter('restore');
    try {
      const tree = await restore({
        imagesDir: dir,
        detached: argv['restore-detached'],
        shellJob: argv['shell-job'],
        tcpEstablished: argv['tcp-established'],
        tcpClose: argv['tcp-close'],
        cgroupMode: cgroupMode(argv['manage-cgroups']),
        verifyImages: argv['verify-images'],
        leaveStopped: argv['leave-stopped'],
        hooks: argv['action-script']?.length ? actionScripts(argv['action-script'], log.fd) : undefined,
        log,
        onProgress: progress.onProgress,
      });
      progress.done();
      if (argv.pidfile) writeFileSync(argv.pidfile, String(tree.pid), { flag: 'wx', mode: 0o600 });
      const s = tree.stats;
      if (argv.json) process.stdout.write(`${JSON.stringify({ pid: tree.pid, pids: tree.pids, ...s })}\n`);
      else if (argv['print-stats']) process.stdout.write(`Displaying restore stats:\nForking time: ${s.forking_time} us\nRestore time: ${s.restore_time} us\nPages restored: ${s.pages_restored}\n`);
      else if (process.stderr.isTTY) process.stderr.write(`restored pid ${tree.pid} in ${fmtUs(s.restore_time)}\n`);
      if (unpacked) rmSync(unpacked, { recursive: true, force: true });
      unpacked = undefined;
      if (argv['exec-cmd']) {
        log.close();
        execAfterRestore(execCmd);
      }
      if (argv['restore-detached']) return;
      const st = await tree.wait();
      process.exitCode = st.code ?? 128 + (st.signal ?? 0);
    } finally {
      progress.done();
      if (unpacked) rmSync(unpacked, { recursive: true, force: true });
      log.close();
    }
  },
};

/** --manage-cgroups[=MODE]: CRIU's soft (the default) and ignore; its full and strict set cgroup properties cryo doesn't dump. */
function cgroupMode(v: string | undefined): 'soft' | 'ignore' | undefined {
  if (v === undefined) return undefined;
  if (v === '' || v === 'soft') return 'soft';
  if (v === 'ignore') return 'ignore';
  throw new InputError(`--manage-cgroups ${v}: cryo knows soft and ignore`, { hint: 'full and strict restore cgroup properties, which cryo does not dump' });
}
