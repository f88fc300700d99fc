// Image directories as single archives (.tar, .tar.gz/.tgz): a small ustar writer/reader on
// node:zlib, streaming so images never sit whole in memory. The manifest inside is the engine's
// (verifyImages checks it).
import { closeSync, createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, renameSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { ImageError } from '../errors.ts';
import { MANIFEST, readImagesManifest } from '../engine/index.ts';

export function isArchivePath(p: string): boolean {
  return /\.(tar|tar\.gz|tgz)$/.test(p);
}

interface Entry {
  readonly name: string;
  readonly type: 'file' | 'dir' | 'symlink';
}

function walk(root: string, sub = ''): Entry[] {
  const out: Entry[] = [];
  for (const name of readdirSync(join(root, sub)).sort()) {
    const rel = sub ? `${sub}/${name}` : name;
    const st = lstatSync(join(root, rel));
    if (st.isSymbolicLink()) out.push({ name: rel, type: 'symlink' });
    else if (st.isDirectory()) out.push({ name: rel, type: 'dir' }, ...walk(root, rel));
    else if (st.isFile()) out.push({ name: rel, type: 'file' });
  }
  return out;
}

// ---- ustar -----------------------------------------------------------------------------------

const BLOCK = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, type: Entry['type'], size: number, mode: number, mtime: number, link = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 154);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new ImageError(`${name}: path too long for a tar archive`);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  h.write(base, 0, 100);
  h.write(octal(mode & 0o7777, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(Math.floor(mtime), 12), 136);
  h.write('        ', 148);
  h.write(type === 'file' ? '0' : type === 'dir' ? '5' : '2', 156);
  h.write(link, 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

async function* tarStream(dir: string): AsyncGenerator<Buffer> {
  for (const e of walk(dir)) {
    const path = join(dir, e.name);
    const st = lstatSync(path);
    if (e.type === 'dir') yield header(`${e.name}/`, 'dir', 0, st.mode, st.mtimeMs / 1000);
    else if (e.type === 'symlink') yield header(e.name, 'symlink', 0, 0o777, st.mtimeMs / 1000, readlinkSync(path));
    else {
      yield header(e.name, 'file', st.size, st.mode, st.mtimeMs / 1000);
      let n = 0;
      for await (const chunk of createReadStream(path)) {
        n += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (n !== st.size) throw new ImageError(`${path}: changed size while being archived`);
      if (n % BLOCK) yield Buffer.alloc(BLOCK - (n % BLOCK));
    }
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** dir (with its manifest) → archive; written to a temporary name, then renamed. */
export async function packImages(dir: string, archive: string): Promise<void> {
  readImagesManifest(dir);
  mkdirSync(dirname(resolve(archive)), { recursive: true });
  const tmp = `${archive}.partial-${process.pid}`;
  try {
    const gz = /\.(gz|tgz)$/.test(archive);
    await (gz
      ? pipeline(Readable.from(tarStream(dir)), createGzip(), createWriteStream(tmp))
      : pipeline(Readable.from(tarStream(dir)), createWriteStream(tmp)));
    renameSync(tmp, archive);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

function isInside(root: string, path: string): boolean {
  const r = relative(resolve(root), resolve(path));
  return r === '' || (!r.startsWith(`..${sep}`) && r !== '..' && !r.startsWith(sep));
}

function field(h: Buffer, off: number, len: number): string {
  const s = h.subarray(off, off + len);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? len : z).toString('utf8');
}

/** archive → dir (created; must be empty). Gzip is detected from the content, not the name. */
export async function unpackImages(archive: string, dir: string): Promise<void> {
  if (existsSync(dir) && readdirSync(dir).length) throw new ImageError(`${dir}: not empty; refusing to unpack ${archive} into it`);
  mkdirSync(dir, { recursive: true });
  const fd = openSync(archive, 'r');
  const magic = Buffer.alloc(2);
  readSync(fd, magic, 0, 2, 0);
  closeSync(fd);
  const source = magic[0] === 0x1f && magic[1] === 0x8b ? createReadStream(archive).pipe(createGunzip()) : createReadStream(archive);

  let pending: Buffer = Buffer.alloc(0);
  let offset = 0; // archive (uncompressed) offset of pending[0]
  let file: { fd: number; left: number; pad: number; name: string } | undefined;
  let ended = false;
  const bad = (what: string): never => {
    throw new ImageError(`${archive}: ${what} at byte ${offset} (corrupted archive)`);
  };
  try {
    for await (const chunk of source) {
      pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
      for (;;) {
        if (ended) break;
        if (file) {
          const n = Math.min(file.left, pending.length);
          if (n) writeSync(file.fd, pending, 0, n);
          file.left -= n;
          pending = pending.subarray(n);
          offset += n;
          if (file.left > 0) break;
          if (pending.length < file.pad) break;
          pending = pending.subarray(file.pad);
          offset += file.pad;
          closeSync(file.fd);
          file = undefined;
          continue;
        }
        if (pending.length < BLOCK) break;
        const h = pending.subarray(0, BLOCK);
        if (h.every((b) => b === 0)) {
          ended = true;
          break;
        }
        let sum = 0;
        for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
        if (parseInt(field(h, 148, 8).trim(), 8) !== sum) bad('bad tar header checksum');
        const prefix = field(h, 345, 155);
        const name = (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100)).replace(/\/$/, '');
        const size = parseInt(field(h, 124, 12).trim() || '0', 8);
        const type = String.fromCharCode(h[156]!);
        const path = join(dir, name);
        if (!name || name.split('/').includes('..') || name.startsWith('/') || !isInside(dir, path)) bad(`unsafe member name "${name}"`);
        pending = pending.subarray(BLOCK);
        offset += BLOCK;
        if (type === '5') mkdirSync(path, { recursive: true });
        else if (type === '2') symlinkSync(field(h, 157, 100), path);
        else if (type === '0' || type === '\0') {
          mkdirSync(dirname(path), { recursive: true });
          file = { fd: openSync(path, 'wx', parseInt(field(h, 100, 8), 8) & 0o777 || 0o600), left: size, pad: (BLOCK - (size % BLOCK)) % BLOCK, name };
        } else bad(`unsupported tar member type "${type}" for "${name}"`);
      }
    }
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(`${archive}: cannot read the archive: ${(e as Error).message}`, { cause: e });
  } finally {
    if (file) closeSync(file.fd);
  }
  if (file || !ended) throw new ImageError(`${archive}: truncated archive (ends inside ${file ? `"${file.name}"` : 'the member list'})`);
  if (!existsSync(join(dir, MANIFEST))) throw new ImageError(`${archive}: no ${MANIFEST} inside`);
}
