// The engine's public types: what the CLI and the runner pass in and get back.
import type { ActionHook } from './hooks.ts';
import type { Logger } from './log.ts';

export interface Progress {
  readonly phase: 'dump' | 'restore';
  readonly pagesDone: number;
  readonly pagesTotal: number;
}

export interface DumpOptions {
  /** Root of the process tree (`-t`). */
  readonly pid: number;
  /** Images directory (`-D`); created if missing. */
  readonly imagesDir: string;
  /** `--leave-running`: resume the tree after a successful dump. */
  readonly leaveRunning?: boolean;
  /** `--leave-stopped`: leave the tree stopped after a successful dump. */
  readonly leaveStopped?: boolean;
  /** `--shell-job`: allow a root that is not a session leader. */
  readonly shellJob?: boolean;
  /** `--ghost-limit`: largest deleted file still open or mapped saved into the images (default 1 MiB, as CRIU). */
  readonly ghostLimit?: number;
  /** `--file-locks`: dump the flock/POSIX locks the tasks hold (without it, such a task is refused, as CRIU does). */
  readonly fileLocks?: boolean;
  /**
   * `--tcp-established`: save established TCP connections (repair mode; the network is locked
   * for them until the restore). Without it such a connection fails the dump.
   */
  readonly tcpEstablished?: boolean;
  /**
   * `--tcp-close`: established TCP connections are saved without repair mode or a network lock,
   * to come back closed (the task sees them fail and drops them). Excludes `tcpEstablished`.
   */
  readonly tcpClose?: boolean;
  /**
   * `--skip-in-flight`: a TCP listener with connections not accepted yet is dumped without them
   * (their clients see a reset and retry), instead of failing the dump.
   */
  readonly skipInFlight?: boolean;
  /**
   * `--network-lock`: how established connections are locked between dump and restore:
   * nftables, iptables, or skip (the user does it, e.g. in network-lock/-unlock action scripts).
   * Stored in the inventory; the restore unlocks the same way. Default: nftables, else iptables.
   */
  readonly networkLock?: 'iptables' | 'nftables' | 'skip';
  /**
   * A killing dump waits for the tasks to die and reaps cryo's tracee notifications of them
   * (default: a long-lived caller must not keep them as zombies). false only sends SIGKILL: the
   * tasks finish dying (freeing their memory) after cryo exits, as with CRIU — for a command that
   * exits right after the dump.
   */
  readonly reapKilled?: boolean;
  /**
   * `--ext-unix-sk`: datagram unix sockets connected to a peer outside the tree (a syslog socket)
   * are saved with that peer's name, and connected to it again at restore. Without it they fail
   * the dump, as in CRIU.
   */
  readonly extUnixSk?: boolean;
  readonly hooks?: ActionHook | undefined;
  readonly log?: Logger;
  /** Aborting a dump resumes every task as it was. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
}

/** CRIU's dump_stats_entry, times in microseconds. */
export interface DumpStats {
  readonly freezing_time: number;
  readonly frozen_time: number;
  readonly memdump_time: number;
  readonly memwrite_time: number;
  readonly pages_scanned: number;
  readonly pages_skipped_parent: number;
  readonly pages_written: number;
  /** Total size of the image files, bytes (not in CRIU's stats image). */
  readonly image_bytes: number;
}

export interface DumpResult {
  readonly imagesDir: string;
  /** Every pid of the dumped tree, root first. */
  readonly pids: readonly number[];
  readonly stats: DumpStats;
  /**
   * What happened to the tree: killed (default), left running, left stopped. A killed tree is
   * also reaped by cryo (it is the tracer): a caller that is the tree's parent gets no exit
   * notification for it (a child_process handle never fires 'exit').
   */
  readonly final: 'killed' | 'running' | 'stopped';
}

export interface RestoreOptions {
  /** Images directory (`-D`), or a `.tar`/`.tar.gz` archive with the images and manifest. */
  readonly imagesDir: string;
  /** `-d`: don't wait for the restored tree. */
  readonly detached?: boolean;
  readonly shellJob?: boolean;
  /** `--leave-stopped`: leave restored tasks stopped (SIGSTOP'ed). */
  readonly leaveStopped?: boolean;
  /** `--tcp-established`: the images may hold established TCP connections (CRIU asks for it on restore too). */
  readonly tcpEstablished?: boolean;
  /** `--tcp-close`: established TCP connections of the images come back closed (needed for a `--tcp-close` dump). */
  readonly tcpClose?: boolean;
  /**
   * `--manage-cgroups`: 'soft' (default, as CRIU's) puts each process back into the cgroups it was
   * dumped in, made if missing; 'ignore' leaves them in cryo's.
   */
  readonly cgroupMode?: 'soft' | 'ignore';
  /**
   * `--verify-images`: hash every image against the manifest, also the large ones this boot of
   * this host wrote and nobody changed since (by default those are trusted: see
   * ImageReader.verifyDeferred).
   */
  readonly verifyImages?: boolean;
  readonly hooks?: ActionHook | undefined;
  readonly log?: Logger;
  readonly onProgress?: (p: Progress) => void;
}

/** CRIU's restore_stats_entry, times in microseconds. */
export interface RestoreStats {
  readonly forking_time: number;
  readonly restore_time: number;
  readonly pages_restored: number;
}

export interface RestoredTree {
  /** Real pid of the restored root (the same as in the image). */
  readonly pid: number;
  readonly pids: readonly number[];
  readonly stats: RestoreStats;
  /**
   * Resolves with the root's wait status once it exits: `{ code }` or `{ signal }`. Aborting
   * `signal` stops the waiting (the task runs on) and rejects with the abort reason.
   */
  wait(signal?: AbortSignal): Promise<{ code: number | null; signal: number | null }>;
}
