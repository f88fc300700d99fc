// Terminal ioctls cryo makes in its own process: on copies of a task's tty fds (pidfd_getfd)
// while dumping, and on the ptys it builds for a restore. Struct layouts (the kernel's termios,
// termios2 and winsize) live here; decisions do not.
import { check } from './check.ts';
import { NR } from './constants.ts';
import { syscallArgs } from './libc.ts';

/** x86_64 ioctl request numbers, as the kernel spells them. */
export const TIOC = {
  TCGETS2: 0x802c542a, TCSETS2: 0x402c542b, TIOCGLCKTRMIOS: 0x5456, TIOCSLCKTRMIOS: 0x5457,
  TIOCGWINSZ: 0x5413, TIOCSWINSZ: 0x5414, TIOCSCTTY: 0x540e, TIOCGPGRP: 0x540f, TIOCSPGRP: 0x5410,
  TIOCGSID: 0x5429, TIOCGPTN: 0x80045430, TIOCSPTLCK: 0x40045431, TIOCGPTLCK: 0x80045439,
  TIOCPKT: 0x5420, TIOCGPKT: 0x80045438, TIOCEXCL: 0x540c, TIOCGEXCL: 0x80045440, FIONREAD: 0x541b,
} as const;

/** The kernel's NCCS: control characters in struct termios / termios2. */
export const NCCS = 19;

export interface Termios {
  readonly iflag: number;
  readonly oflag: number;
  readonly cflag: number;
  readonly lflag: number;
  readonly line: number;
  readonly cc: readonly number[];
  /** Only in termios2 (TCGETS2); 0 for the locked termios (struct termios has no speeds). */
  readonly ispeed: number;
  readonly ospeed: number;
}

export interface Winsize {
  readonly row: number;
  readonly col: number;
  readonly xpixel: number;
  readonly ypixel: number;
}

const TERMIOS_SIZE = 36; // 4 flags, c_line, c_cc[19]
const TERMIOS2_SIZE = 44; // + c_ispeed, c_ospeed (aligned)

function ioctl(fd: number, req: number, arg: Buffer | number, what: string): number {
  return check(syscallArgs(NR.ioctl, fd, req, arg), 'ioctl', `${what}, fd ${fd}`);
}

/** An ioctl that fills an int (TIOCGPTN, TIOCGPTLCK, TIOCGPKT, TIOCGEXCL, TIOCGSID, TIOCGPGRP, FIONREAD). */
export function ioctlGetInt(fd: number, req: number, what: string): number {
  const b = Buffer.alloc(4);
  ioctl(fd, req, b, what);
  return b.readInt32LE(0);
}

/** An ioctl that reads an int through a pointer (TIOCSPTLCK, TIOCPKT, TIOCSPGRP). */
export function ioctlSetInt(fd: number, req: number, value: number, what: string): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  ioctl(fd, req, b, what);
}

/** An ioctl with a plain integer argument (TIOCEXCL, TIOCSCTTY). */
export function ioctlArg(fd: number, req: number, arg: number, what: string): void {
  ioctl(fd, req, arg, what);
}

export function decodeTermios(b: Buffer): Termios {
  const cc: number[] = [];
  for (let i = 0; i < NCCS; i++) cc.push(b[17 + i]!);
  const two = b.length >= TERMIOS2_SIZE;
  return {
    iflag: b.readUInt32LE(0), oflag: b.readUInt32LE(4), cflag: b.readUInt32LE(8), lflag: b.readUInt32LE(12),
    line: b[16]!, cc, ispeed: two ? b.readUInt32LE(36) : 0, ospeed: two ? b.readUInt32LE(40) : 0,
  };
}

export function encodeTermios(t: Termios, size: number): Buffer {
  const b = Buffer.alloc(size);
  [t.iflag, t.oflag, t.cflag, t.lflag].forEach((v, i) => b.writeUInt32LE(v >>> 0, i * 4));
  b[16] = t.line & 0xff;
  for (let i = 0; i < NCCS; i++) b[17 + i] = (t.cc[i] ?? 0) & 0xff;
  if (size >= TERMIOS2_SIZE) {
    b.writeUInt32LE(t.ispeed >>> 0, 36);
    b.writeUInt32LE(t.ospeed >>> 0, 40);
  }
  return b;
}

/** TCGETS2: the terminal's termios with its real speeds. On a pty master: the slave's. */
export function getTermios(fd: number): Termios {
  const b = Buffer.alloc(TERMIOS2_SIZE);
  ioctl(fd, TIOC.TCGETS2, b, 'TCGETS2');
  return decodeTermios(b);
}

export function setTermios(fd: number, t: Termios): void {
  ioctl(fd, TIOC.TCSETS2, encodeTermios(t, TERMIOS2_SIZE), 'TCSETS2');
}

/** TIOCGLCKTRMIOS: which termios bits are locked (struct termios, no speeds). */
export function getLockedTermios(fd: number): Termios {
  const b = Buffer.alloc(TERMIOS_SIZE);
  ioctl(fd, TIOC.TIOCGLCKTRMIOS, b, 'TIOCGLCKTRMIOS');
  return decodeTermios(b);
}

/** TIOCSLCKTRMIOS needs CAP_SYS_ADMIN. */
export function setLockedTermios(fd: number, t: Termios): void {
  ioctl(fd, TIOC.TIOCSLCKTRMIOS, encodeTermios(t, TERMIOS_SIZE), 'TIOCSLCKTRMIOS');
}

export function getWinsize(fd: number): Winsize {
  const b = Buffer.alloc(8);
  ioctl(fd, TIOC.TIOCGWINSZ, b, 'TIOCGWINSZ');
  return { row: b.readUInt16LE(0), col: b.readUInt16LE(2), xpixel: b.readUInt16LE(4), ypixel: b.readUInt16LE(6) };
}

export function setWinsize(fd: number, w: Winsize): void {
  const b = Buffer.alloc(8);
  [w.row, w.col, w.xpixel, w.ypixel].forEach((v, i) => b.writeUInt16LE(v & 0xffff, i * 2));
  ioctl(fd, TIOC.TIOCSWINSZ, b, 'TIOCSWINSZ');
}

/** glibc's dev_t split (what fs.stat's rdev holds). */
export function devMajor(dev: number): number {
  return Number((BigInt(dev) >> 8n) & 0xfffn) | Number((BigInt(dev) >> 32n) & ~0xfffn);
}
export function devMinor(dev: number): number {
  return Number(BigInt(dev) & 0xffn) | Number((BigInt(dev) >> 12n) & ~0xffn);
}
