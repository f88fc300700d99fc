// Sockets as the kernel describes them: netlink sock_diag requests and pure reply parsers.
export * from './unix-diag.ts';
export * from './sock-diag.ts';
export * from './inet-diag.ts';
