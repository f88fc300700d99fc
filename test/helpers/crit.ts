// CRIU's own `crit` (Debian's criu package), to check that cryo's images decode with it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CRIT = '/usr/bin/crit';
// CI installs Debian's criu package: there a missing crit is a failure, not a skip.
export const critSkip = !existsSync(CRIT) && process.env['CI'] !== 'true' ? `${CRIT} not installed (apt-get install criu)` : false;

export function crit(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(CRIT, args, { maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (err?.message ?? '') });
    });
  });
}

/** `crit decode -i FILE` parsed; throws with crit's stderr when it fails. */
export async function critDecode(file: string): Promise<{ magic: string; entries: Record<string, any>[] }> {
  const r = await crit(['decode', '-i', file]);
  if (r.code !== 0) throw new Error(`crit decode ${file}: exit ${r.code}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as { magic: string; entries: Record<string, any>[] };
}
