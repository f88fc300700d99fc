// Network lock for established TCP connections (CRIU's netfilter.c): while a connection is held
// in repair mode, and while its task is gone between dump and restore, every packet of it is
// dropped so the peer sees silence (and retransmits later), never a reset. nftables (a table
// `inet CRIU-<root pid>` with a set of locked 4-tuples per family) when `nft` is installed, else
// iptables/ip6tables rules, as CRIU 3.17 writes them; or, with --network-lock skip, nothing: the
// user locks the network (network-lock / network-unlock action scripts), as with CRIU.
import { existsSync } from 'node:fs';
import { RuntimeError, UnsupportedError } from '../../errors.ts';
import { childProcess, net } from '../lazy-builtins.ts';

export type LockMethod = 'iptables' | 'nftables' | 'skip';
/** inventory_entry.network_lock_method (CRIU's internal enum NETWORK_LOCK_METHOD). */
export const NETWORK_LOCK_METHOD = { iptables: 0, nftables: 1, skip: 2 } as const;
/** Packets carrying this mark pass the lock (CRIU's SOCCR_MARK). */
const SOCCR_MARK = '0xC114';

/** One direction of a TCP connection: the local end (src) and the peer (dst). */
export interface Conn {
  readonly family: 2 | 10;
  readonly src: Buffer;
  readonly srcPort: number;
  readonly dst: Buffer;
  readonly dstPort: number;
}

const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
function which(cmd: string): string | undefined {
  for (const dir of SBIN) if (existsSync(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  return undefined;
}

/** `wanted` (--network-lock), or nftables where `nft` exists, else iptables; refuses when the tool is missing. */
export function pickLockMethod(wanted?: LockMethod): LockMethod {
  if (wanted === 'skip') return 'skip';
  if (wanted) {
    const tool = wanted === 'nftables' ? 'nft' : 'iptables';
    if (which(tool)) return wanted;
    throw new UnsupportedError(`can't lock the network with ${wanted}: ${tool} is not installed`, { hint: `install it, pick another --network-lock, or --network-lock skip and lock it yourself` });
  }
  if (which('nft')) return 'nftables';
  if (which('iptables')) return 'iptables';
  throw new UnsupportedError("can't lock the network for established TCP connections: neither nft nor iptables is installed", {
    hint: 'install nftables (apt-get install nftables) or iptables',
  });
}

export function lockMethodByNumber(n: number | undefined): LockMethod {
  return n === NETWORK_LOCK_METHOD.nftables ? 'nftables' : n === NETWORK_LOCK_METHOD.skip ? 'skip' : 'iptables';
}

export const nftTable = (rootPid: number): string => `inet CRIU-${rootPid}`;

/** An address as text; IPv4-mapped IPv6 addresses as IPv4 (CRIU does the same). */
function addrText(family: number, a: Buffer): { family: 4 | 6; text: string } {
  if (family === 10 && a.subarray(0, 10).every((x) => x === 0) && a.readUInt16BE(10) === 0xffff) {
    return { family: 4, text: [...a.subarray(12, 16)].join('.') };
  }
  if (family === 2) return { family: 4, text: [...a.subarray(0, 4)].join('.') };
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(a.readUInt16BE(i).toString(16));
  return { family: 6, text: words.join(':') };
}

function run(cmd: string, args: readonly string[], input?: string): { ok: boolean; err: string } {
  const r = childProcess().spawnSync(cmd, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  return { ok: !r.error && r.status === 0, err: (r.error?.message ?? r.stderr ?? '').trim() };
}

function nft(script: string, what: string): void {
  const r = run(which('nft') ?? 'nft', ['-f', '-'], script);
  if (!r.ok) throw new RuntimeError(`nftables: can't ${what}: ${r.err}`, { hint: 'cryo needs CAP_NET_ADMIN and nf_tables in the kernel' });
}

function nftHasTable(table: string): boolean {
  return run(which('nft') ?? 'nft', ['list', 'table', ...table.split(' ')]).ok;
}

/** The table, chains and sets CRIU's nftables_init_connection_lock creates. */
function nftInit(table: string): void {
  if (nftHasTable(table)) return;
  const chain = (name: string): string =>
    `add chain ${table} ${name} { type filter hook ${name} priority 0; }\n` +
    `add rule ${table} ${name} meta mark ${SOCCR_MARK} accept\n` +
    `add rule ${table} ${name} ip saddr . tcp sport . ip daddr . tcp dport @conns4 drop\n` +
    `add rule ${table} ${name} ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6 drop\n`;
  nft(
    `add table ${table}\n` +
      `add set ${table} conns4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n` +
      `add set ${table} conns6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; }\n` +
      chain('output') +
      chain('input'),
    `create table ${table}`,
  );
}

function iptablesSwitch(c: Conn, lock: boolean): { ok: boolean; err: string } {
  const src = addrText(c.family, c.src);
  const dst = addrText(c.family, c.dst);
  const cmd = which(src.family === 4 ? 'iptables' : 'ip6tables') ?? 'iptables';
  // Packets from the peer to us (INPUT), and from us to the peer (OUTPUT).
  const rule = (chain: string, from: string, fromPort: number, to: string, toPort: number): string[] =>
    ['-w', '-t', 'filter', lock ? '-I' : '-D', chain, '--protocol', 'tcp', '-m', 'mark', '!', '--mark', SOCCR_MARK,
      '--source', from, '--sport', String(fromPort), '--destination', to, '--dport', String(toPort), '-j', 'DROP'];
  const a = run(cmd, rule('INPUT', dst.text, c.dstPort, src.text, c.srcPort));
  if (!a.ok) return a;
  const b = run(cmd, rule('OUTPUT', src.text, c.srcPort, dst.text, c.dstPort));
  if (!b.ok && lock) run(cmd, rule('INPUT', dst.text, c.dstPort, src.text, c.srcPort).map((x) => (x === '-I' ? '-D' : x)));
  return b;
}

/** Drops every packet of connection `c`, both ways. */
export function lockConnection(method: LockMethod, rootPid: number, c: Conn): void {
  if (method === 'skip') return;
  if (method === 'iptables') {
    const r = iptablesSwitch(c, true);
    if (!r.ok) throw new RuntimeError(`iptables: can't lock connection: ${r.err}`);
    return;
  }
  const table = nftTable(rootPid);
  nftInit(table);
  const src = addrText(c.family, c.src);
  const dst = addrText(c.family, c.dst);
  const set = `conns${src.family}`;
  nft(
    `add element ${table} ${set} { ${dst.text} . ${c.dstPort} . ${src.text} . ${c.srcPort} }\n` +
      `add element ${table} ${set} { ${src.text} . ${c.srcPort} . ${dst.text} . ${c.dstPort} }\n`,
    `lock connection ${src.text}:${c.srcPort} - ${dst.text}:${c.dstPort}`,
  );
}

/**
 * Lets the packets of `conns` through again: nftables drops the whole table, iptables removes
 * each connection's rules. Returns what could not be undone (an already unlocked network is fine).
 */
export function unlockConnections(method: LockMethod, rootPid: number, conns: readonly Conn[]): string[] {
  if (method === 'skip') return [];
  if (method === 'nftables') {
    const table = nftTable(rootPid);
    if (!nftHasTable(table)) return [];
    const r = run(which('nft') ?? 'nft', ['delete', 'table', ...table.split(' ')]);
    return r.ok ? [] : [`nft delete table ${table}: ${r.err}`];
  }
  return conns.map((c) => iptablesSwitch(c, false)).filter((r) => !r.ok).map((r) => r.err);
}

/** `isIPv4`-style text of an address, for messages. */
export function connText(c: Conn): string {
  const s = addrText(c.family, c.src).text;
  const d = addrText(c.family, c.dst).text;
  const w = (a: string): string => (net().isIPv4(a) ? a : `[${a}]`);
  return `${w(s)}:${c.srcPort} - ${w(d)}:${c.dstPort}`;
}
