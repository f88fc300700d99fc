// Files read at run time (the schema, fixtures) live in the source tree, while the code runs from
// dist/: find them from the repository root rather than from the module's own directory.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory above this module that holds package.json. */
export function repoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export function schemaPath(): string {
  return join(repoRoot(), 'schemas', 'workflow.schema.json');
}
