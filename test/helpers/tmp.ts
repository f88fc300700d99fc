// Temporary folders that are removed when the test (or the file's tests) end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { TestContext } from 'node:test';

/**
 * A fresh folder `$TMPDIR/<prefix>XXXXXX`, removed after `t` when given, else after all tests of
 * the file. Set CRYO_KEEP_TMP=1 to keep it for a post-mortem.
 */
export function tmpDir(prefix: string, t?: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), prefix.endsWith('-') ? prefix : `${prefix}-`));
  const remove = (): void => {
    if (process.env['CRYO_KEEP_TMP'] !== '1') rmSync(dir, { recursive: true, force: true });
  };
  if (t !== undefined) t.after(remove);
  else after(remove);
  return dir;
}
