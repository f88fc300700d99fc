// Node built-ins that a dump or restore rarely needs (action scripts, helper processes, hash
// workers, a shell job's terminal), loaded on first use: imported at the top of their modules,
// child_process, worker_threads and tty (and net, which they pull in) took ~3.5 ms of the start of
// every command.
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export const childProcess = (): typeof import('node:child_process') => load('node:child_process') as typeof import('node:child_process');
export const workerThreads = (): typeof import('node:worker_threads') => load('node:worker_threads') as typeof import('node:worker_threads');
export const tty = (): typeof import('node:tty') => load('node:tty') as typeof import('node:tty');
export const net = (): typeof import('node:net') => load('node:net') as typeof import('node:net');
