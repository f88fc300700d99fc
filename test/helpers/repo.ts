// Paths of the repository from a test, which runs compiled from dist/test/…
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root: the nearest folder up with package.json and tsconfig.json (dist/ has no tsconfig). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no repository root above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** Path of `test/fixtures/<rel>`. */
export function fixturePath(rel: string): string {
  return join(repoRoot(), 'test', 'fixtures', rel);
}

/** Text of `test/fixtures/<rel>`, e.g. `fixture('proc/stat-self.txt')`. */
export function fixture(rel: string): string {
  return readFileSync(fixturePath(rel), 'utf8');
}

export function fixtureBuffer(rel: string): Buffer {
  return readFileSync(fixturePath(rel));
}
