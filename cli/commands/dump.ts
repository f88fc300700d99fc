// `cryo dump -t PID -D DIR`: CRIU's dump, with its options and meanings.
import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { CancelledError, InputError } from '../../errors.ts';
import { fmtBytes, fmtUs, loggerFor, progressReporter, withLogOptions, type LogArgs } from '../common.ts';

interface Args extends LogArgs {
  readonly tree?: number;
  readonly pidfile?: string;
  readonly 'images-dir': string;
  readonly 'leave-running'?: boolean;
  readonly 'leave-stopped'?: boolean;
  readonly 'shell-job'?: boolean;
  readonly 'tcp-established'?: boolean;
  readonly 'ext-unix-sk'?: boolean;
  readonly 'tcp-close'?: boolean;
  readonly 'skip-in-flight'?: boolean;
  readonly 'network-lock'?: 'iptables' | 'nftables' | 'skip';
  readonly 'ghost-limit'?: string;
  readonly 'file-locks'?: boolean;
  readonly 'action-script'?: string[];
  readonly 'print-stats'?: boolean;
  readonly json?: boolean;
}

export const dumpCommand: CommandModule<object, Args> = {
  command: 'dump',
  describe: 'Checkpoint a process to a directory of images (the process is killed unless -R or -s)',
  builder: (y) =>
    withLogOptions(y)
      .option('tree', { alias: 't', type: 'number', describe: 'pid of the process to dump' })
      .option('pidfile', { type: 'string', describe: 'read the pid to dump from this file (instead of -t)' })
      .option('images-dir', { alias: 'D', type: 'string', default: '.', describe: 'directory to write the images to' })
      .option('leave-running', { alias: 'R', type: 'boolean', describe: 'leave the process running after the dump' })
      .option('leave-stopped', { alias: 's', type: 'boolean', describe: 'leave the process stopped after the dump' })
      .option('shell-job', { alias: 'j', type: 'boolean', describe: 'allow a process that is not a session leader (a shell job)' })
      .option('tcp-established', { type: 'boolean', describe: 'checkpoint/restore established TCP connections (repair mode; the network is locked for them in between)' })
      .option('tcp-close', { type: 'boolean', describe: 'save established TCP connections without repair or a network lock; they come back closed (restore with --tcp-close)' })
      .option('skip-in-flight', { alias: 'tcp-skip-in-flight', type: 'boolean', describe: 'dump a TCP listener without the connections not accepted yet (their clients see a reset and retry)' })
      .option('network-lock', { type: 'string', choices: ['iptables', 'nftables', 'skip'], describe: 'how --tcp-established connections are locked until the restore (default nftables, else iptables; skip: by you, e.g. in action scripts)' })
      .option('ext-unix-sk', { alias: 'x', type: 'boolean', describe: 'save datagram unix sockets connected outside the tree (a syslog socket) with their peer\'s name; restore connects them to it again' })
      .option('ghost-limit', { type: 'string', describe: 'largest deleted file still open or mapped to save, e.g. 1M (default), 64M' })
      .option('file-locks', { alias: 'l', type: 'boolean', describe: 'dump flock and POSIX locks held by the process (refused without it)' })
      .option('action-script', { type: 'string', array: true, describe: 'script run at each action (CRTOOLS_SCRIPT_ACTION); repeatable' })
      .option('print-stats', { alias: 'display-stats', type: 'boolean', describe: 'print the dump statistics' })
      .option('json', { type: 'boolean', describe: 'print the result and statistics as JSON' })
      .conflicts('leave-running', 'leave-stopped') as never,
  handler: async (argv) => {
    let pid = argv.tree;
    if (pid === undefined && argv.pidfile) pid = Number(readFileSync(argv.pidfile, 'utf8').trim());
    if (pid === undefined || !Number.isInteger(pid)) throw new InputError('no process given: use -t PID (or --pidfile FILE)');
    const log = await loggerFor(argv, argv['images-dir'], true);
    const { actionScripts, dump } = await import('../../engine/index.ts');
    const progress = progressReporter('dump');
    const ac = new AbortController();
    // Ctrl-C or a polite kill (timeout, systemd) stops the dump at its next step and lets the tasks go as they were.
    let stoppedBy = '';
    const onSigint = (sig: NodeJS.Signals): void => {
      stoppedBy = sig;
      ac.abort();
    };
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigint);
    try {
      const r = await dump({
        pid,
        imagesDir: argv['images-dir'],
        leaveRunning: argv['leave-running'],
        leaveStopped: argv['leave-stopped'],
        shellJob: argv['shell-job'],
        tcpEstablished: argv['tcp-established'],
        extUnixSk: argv['ext-unix-sk'],
        tcpClose: argv['tcp-close'],
        skipInFlight: argv['skip-in-flight'],
        networkLock: argv['network-lock'],
        ghostLimit: argv['ghost-limit'] === undefined ? undefined : parseSize(argv['ghost-limit']),
        fileLocks: argv['file-locks'],
        // cryo exits next: the killed tasks finish dying on their own, as after CRIU.
        reapKilled: false,
        hooks: argv['action-script']?.length ? actionScripts(argv['action-script'], log.fd) : undefined,
        log,
        signal: ac.signal,
        onProgress: progress.onProgress,
      });
      progress.done();
      const s = r.stats;
      if (argv.json) {
        process.stdout.write(`${JSON.stringify({ images_dir: r.imagesDir, pids: r.pids, final: r.final, ...s })}\n`);
      } else if (argv['print-stats']) {
        process.stdout.write(
          `Displaying dump stats:\nFreezing time: ${s.freezing_time} us\nFrozen time: ${s.frozen_time} us\nMemory dump time: ${s.memdump_time} us\n` +
            `Memory write time: ${s.memwrite_time} us\nMemory pages scanned: ${s.pages_scanned}\nMemory pages skipped from parent: ${s.pages_skipped_parent}\n` +
            `Memory pages written: ${s.pages_written}\nImage size: ${s.image_bytes} bytes\n`,
        );
      } else if (process.stderr.isTTY) {
        process.stderr.write(
          `dumped ${r.pids.join(',')} to ${r.imagesDir} (${r.final}): frozen ${fmtUs(s.frozen_time)}, ${s.pages_written} pages, images ${fmtBytes(s.image_bytes)}\n`,
        );
      }
    } catch (e) {
      if (e instanceof Error && e.name === 'AbortError') throw new CancelledError(`dump of ${pid} cancelled by ${stoppedBy}: the tasks run on as before`, { cause: e });
      throw e;
    } finally {
      progress.done();
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
      log.close();
    }
  },
};

/** CRIU's sizes: a number of bytes with an optional K, M or G suffix. */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (!m) throw new InputError(`bad size ${JSON.stringify(text)}: expected bytes with an optional K, M or G suffix`);
  return Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase());
}
