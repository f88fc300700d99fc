// native/: the only layer that calls koffi. Prototypes, constants, struct layouts, checked calls.
export * from './constants.ts';
export * from './regs.ts';
export * from './ptrace.ts';
export * from './mem.ts';
export * from './proc.ts';
export { SyscallError, check, errnoName } from './check.ts';
export { addressOf, lastErrno, sys, syscallArgs, type Arg } from './libc.ts';
export * from './socket.ts';
export * from './tty.ts';
export * from './fhandle.ts';
export * from './inet.ts';
export * from './ipc.ts';
export { mapFile, mapFileForWriting, type MappedFile } from './filemap.ts';
export { sha256InBackground, sha256InBackgroundAvailable } from './sha256.ts';
export { PAGE_IS, REGION_WORDS, pagemapScan, pagemapScanInBackground, type PagemapQuery, type PagemapScanResult } from './pagemap-scan.ts';
