// Pure parsers of /proc files and the thin synchronous readers that feed them.
export * from './stat.ts';
export * from './status.ts';
export * from './maps.ts';
export * from './smaps.ts';
export * from './fdinfo.ts';
export * from './limits.ts';
export * from './auxv.ts';
export * from './pagemap.ts';
export * from './tasks.ts';
export * from './timers.ts';
export * from './mountinfo.ts';
export * from './locks.ts';
export * from './meminfo.ts';
export * from './cgroup.ts';
