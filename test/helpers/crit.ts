// CRIU's own image decoder, the compatibility check of every image cryo writes.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CRIT = '/usr/bin/crit';
const critMissing = !existsSync(CRIT);
/** A skip reason when crit is missing outside CI; in CI (Debian's criu package installed) a missing crit is a failure. */
export const critSkip: string | false = critMissing && process.env['CI'] !== 'true' ? `${CRIT} not installed (apt-get install criu)` : false;

export function crit(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(CRIT, args, { maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (err?.message ?? '') });
    });
  });
}

/** `crit decode -i FILE`, parsed; fails with crit's error. */
export async function critDecode(file: string): Promise<{ magic: string; entries: Record<string, any>[] }> {
  const r = await crit(['decode', '-i', file]);
  if (r.code !== 0) throw new Error(`crit decode ${file}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout) as { magic: string; entries: Record<string, any>[] };
}
