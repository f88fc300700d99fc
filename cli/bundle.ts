// Build step (npm run build / npm test / npm ci): bundles the CLI into dist/bundle/ with esbuild.
// Why: Node resolves, reads and compiles each ES module on its own; cryo's CLI with yargs is ~190
// files and took ~100 ms of every command's start-up before any work — a third of a small dump.
// One bundle, split at the CLI's lazy imports (the engine, the runner), starts in ~40 ms.
// koffi (a native addon) and protobufjs (only for a stale schema table) stay in node_modules.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// Chunk names carry content hashes: start empty so old chunks don't pile up.
rmSync(path.join(root, 'dist', 'bundle'), { recursive: true, force: true });

await build({
  absWorkingDir: root,
  // The hash workers are Worker entries: image-dir finds them next to its own chunk (one flat directory).
  entryPoints: ['cli/main.ts', 'engine/images/hash-worker.ts', 'engine/images/hash-file-worker.ts'],
  outdir: 'dist/bundle',
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Whitespace and syntax only: stack traces of internal errors keep cryo's function names.
  minifyWhitespace: true,
  minifySyntax: true,
  external: ['koffi', 'protobufjs'],
  // Intl.Segmenter costs ~12 ms per copy of string-width at load: see lazy-segmenter.ts.
  define: { 'Intl.Segmenter': 'LazySegmenter' },
  inject: ['cli/lazy-segmenter.ts'],
  // string-width's Unicode regexes cost ~10 ms at load: see text-width.ts.
  alias: { 'string-width': './cli/text-width.ts' },
  // CommonJS dependencies (ajv, yargs' helpers) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __cryoRequire } from 'node:module'; const require = __cryoRequire(import.meta.url);" },
  logLevel: 'warning',
});
