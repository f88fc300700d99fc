// System V shared memory segments attached by a task (maps show `/SYSV%08x (deleted)`, the inode
// is the shmid). Each segment is dumped once into ipcns-shm-NS.img (ipc_shm_entry, content
// inline as CRIU's legacy layout that crit decodes); its VMAs go to mm-PID.img with
// VMA_AREA_SYSVIPC and no pages. Restore re-creates a segment that is gone with the same shmid
// (the namespace's kernel/shm_next_id), key, owner, mode, size and content — or reuses the one
// still there when it matches, as CRIU does for a segment outside the dumped namespaces — then
// the task shmat()s it at the dumped address. A segment that was marked for removal is marked
// again once the task holds it.
import { writeFileSync } from 'node:fs';
import {
  IPC,
  NR,
  PAGE_SIZE,
  PROT,
  SHM,
  readMemory,
  shmAttach,
  shmDetach,
  shmGet,
  shmRemove,
  shmSetOwner,
  shmStat,
  writeMemory,
  type ShmidDs,
} from '../../native/index.ts';
import { ImageError, RuntimeError, UnsupportedError } from '../../errors.ts';
import type { DumpContext, RestoreContext, RestoreTask } from '../context.ts';

type Entry = Record<string, any>;

const SHM_NEXT_ID = '/proc/sys/kernel/shm_next_id';
const PAGE = BigInt(PAGE_SIZE);

/** A segment as the image holds it: its ipc_shm_entry and content. */
export interface ShmSegment {
  readonly entry: Entry;
  readonly payload: Buffer;
}

/** Restore-side state of one segment, shared by every task that attaches it. */
export interface RestoredShm {
  readonly segment: ShmSegment;
  /** cryo created it (else it was still there and is reused as it is). */
  readonly created: boolean;
  /** IPC_RMID done again (for a segment dumped as marked for removal). */
  removed: boolean;
}

/** ipc_shm_entry of a segment from its IPC_STAT. */
export function shmEntry(id: number, ds: ShmidDs): Entry {
  return {
    desc: { key: ds.key >>> 0, uid: ds.uid, gid: ds.gid, cuid: ds.cuid, cgid: ds.cgid, mode: ds.mode, id },
    size: ds.size,
    in_pagemaps: false,
  };
}

function roundUp(size: bigint): bigint {
  return ((size + PAGE - 1n) / PAGE) * PAGE;
}

/** Attachments of one task: its SysV VMAs grouped by segment and attach address (start - pgoff). */
export function groupAttachments(vmas: readonly Entry[]): { shmid: number; base: bigint; vmas: Entry[] }[] {
  const groups = new Map<string, { shmid: number; base: bigint; vmas: Entry[] }>();
  for (const v of vmas) {
    const shmid = Number(v.shmid);
    const base = BigInt(v.start) - BigInt(v.pgoff ?? 0);
    const key = `${shmid}@${base}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { shmid, base, vmas: [] }));
    g.vmas.push(v);
  }
  for (const g of groups.values()) g.vmas.sort((a, b) => (BigInt(a.start) < BigInt(b.start) ? -1 : 1));
  return [...groups.values()];
}

/** Whether an attachment's VMAs cover its whole segment without holes (what one shmat() gives). */
export function coversSegment(g: { base: bigint; vmas: readonly Entry[] }, size: bigint): boolean {
  let at = g.base;
  for (const v of g.vmas) {
    if (BigInt(v.start) !== at) return false;
    at = BigInt(v.end);
  }
  return at === g.base + roundUp(size);
}

/** ---- dump ---- */

/**
 * Records the segments behind a task's SysV VMAs (each once per dump), read from cryo's own
 * attachment. A segment attached only in part can't be re-attached with one shmat(): refused.
 */
export function collectSysvShm(ctx: DumpContext, pid: number, vmas: readonly Entry[]): void {
  for (const g of groupAttachments(vmas)) {
    const segments = (ctx.sysvShm ??= new Map());
    let seg = segments.get(g.shmid);
    if (!seg) {
      const ds = shmStat(g.shmid);
      if (!ds) throw new RuntimeError(`${pid}: SysV shared memory segment ${g.shmid} is gone`);
      const addr = shmAttach(g.shmid, SHM.RDONLY);
      try {
        seg = { entry: shmEntry(g.shmid, ds), payload: readMemory(process.pid, addr, Number(ds.size)) };
      } finally {
        shmDetach(addr);
      }
      segments.set(g.shmid, seg);
    }
    if (!coversSegment(g, BigInt(seg.entry.size))) {
      throw new UnsupportedError(`${pid}: SysV shared memory segment ${g.shmid} is attached in part at 0x${g.base.toString(16)}`, {
        hint: 'only whole attachments (as shmat() makes them) are supported',
      });
    }
  }
}

/** ipcns-shm-NS.img with every segment recorded (no file when there is none). */
export function writeSysvShm(ctx: DumpContext, ipcNsId: number): void {
  const segs = [...(ctx.sysvShm?.values() ?? [])];
  if (!segs.length) return;
  ctx.images.write('IPCNS_SHM', segs.map((s) => s.entry), { id: ipcNsId, payloads: segs.map((s) => s.payload) });
}

/** ---- restore ---- */

function loadSegments(ctx: RestoreContext): Map<number, ShmSegment> {
  const out = new Map<number, ShmSegment>();
  for (const f of ctx.images.list()) {
    const m = /^ipcns-shm-(\d+)\.img$/.exec(f);
    if (!m) continue;
    for (const { entry, payload } of ctx.images.readWithPayloads<Entry>('IPCNS_SHM', Number(m[1]))) {
      if (entry.in_pagemaps) throw new UnsupportedError(`${f}: segment ${entry.desc?.id} keeps its content in pagemaps`, { hint: 'images of CRIU with an IPC namespace are not supported yet' });
      if (!payload || BigInt(payload.length) < BigInt(entry.size)) throw new ImageError(`${f}: segment ${entry.desc?.id}: content shorter than ${entry.size} bytes`);
      out.set(Number(entry.desc.id), { entry, payload });
    }
  }
  return out;
}

/** Re-creates a segment with its id (shm_next_id), key, owner, mode and content. */
function createSegment(seg: ShmSegment): void {
  const d = seg.entry.desc as Entry;
  const id = Number(d.id);
  writeFileSync(SHM_NEXT_ID, String(id));
  let got: number;
  try {
    got = shmGet(d.key | 0, BigInt(seg.entry.size), (Number(d.mode) & 0o777) | IPC.CREAT | IPC.EXCL);
  } catch (e) {
    writeFileSync(SHM_NEXT_ID, '-1');
    throw new RuntimeError(`can't re-create SysV shared memory segment ${id} (key 0x${Number(d.key).toString(16)}): ${(e as Error).message}`, {
      cause: e,
      hint: 'another segment holds its key: remove it (ipcrm -M KEY) or restore elsewhere',
    });
  }
  if (got !== id) {
    shmRemove(got);
    throw new RuntimeError(`SysV shared memory segment ${id} was re-created as ${got}`, { hint: 'another process created a segment at the same moment; retry' });
  }
  shmSetOwner(id, Number(d.uid), Number(d.gid), Number(d.mode));
  const addr = shmAttach(id, 0);
  try {
    writeMemory(process.pid, addr, seg.payload.subarray(0, Number(seg.entry.size)));
  } finally {
    shmDetach(addr);
  }
}

/** The segment `shmid` ready to attach: reused when still there and the same, else created. */
function prepareSegment(ctx: RestoreContext, shmid: number): RestoredShm {
  const ready = (ctx.sysvShm ??= new Map());
  const done = ready.get(shmid);
  if (done) return done;
  const segments = (ctx.sysvShmImages ??= loadSegments(ctx));
  const segment = segments.get(shmid);
  if (!segment) throw new ImageError(`SysV shared memory segment ${shmid} is mapped but missing from ipcns-shm-*.img`);
  const d = segment.entry.desc as Entry;
  const now = shmStat(shmid);
  if (now && (now.size !== BigInt(segment.entry.size) || (now.key >>> 0) !== Number(d.key))) {
    throw new RuntimeError(`SysV shared memory id ${shmid} is taken by another segment (key 0x${(now.key >>> 0).toString(16)}, ${now.size} bytes)`, {
      hint: `the dumped one had key 0x${Number(d.key).toString(16)} and ${segment.entry.size} bytes; remove the other (ipcrm -m ${shmid})`,
    });
  }
  if (!now) createSegment(segment);
  const r: RestoredShm = { segment, created: !now, removed: false };
  ready.set(shmid, r);
  ctx.log.debug(`SysV shm ${shmid}: ${now ? 'still there, reused' : 'created'}`);
  return r;
}

/** Attaches the task's SysV segments at their dumped addresses (the rest of memory is mapped). */
export function attachSysvShm(ctx: RestoreContext, task: RestoreTask, vmas: readonly Entry[]): void {
  const t = task.remote.leader;
  for (const g of groupAttachments(vmas)) {
    const seg = prepareSegment(ctx, g.shmid);
    if (!coversSegment(g, BigInt(seg.segment.entry.size))) throw new ImageError(`mm-${task.pid}.img: SysV segment ${g.shmid} attached in part`);
    const write = g.vmas.some((v) => Number(v.prot) & PROT.WRITE);
    const exec = g.vmas.some((v) => Number(v.prot) & PROT.EXEC);
    const at = t.raw(NR.shmat, g.shmid, g.base, (write ? 0 : SHM.RDONLY) | (exec ? SHM.EXEC : 0));
    if (at !== g.base) {
      // A segment made for nobody would stay forever: take it back.
      if (seg.created && !seg.removed) shmRemove(g.shmid);
      throw new RuntimeError(`${task.pid}: can't attach SysV segment ${g.shmid} at 0x${g.base.toString(16)} (got ${at < 0n ? `errno ${-at}` : `0x${at.toString(16)}`})`);
    }
    const attached = PROT.READ | (write ? PROT.WRITE : 0) | (exec ? PROT.EXEC : 0);
    for (const v of g.vmas) {
      if (Number(v.prot) !== attached) t.call('mprotect', NR.mprotect, BigInt(v.start), BigInt(v.end) - BigInt(v.start), Number(v.prot));
    }
    // Marked for removal at dump: mark it again now that the task holds it.
    if (seg.created && !seg.removed && Number(seg.segment.entry.desc.mode) & SHM.DEST) {
      shmRemove(g.shmid);
      seg.removed = true;
    }
  }
}
