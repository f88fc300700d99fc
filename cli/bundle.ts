// Build step (npm run build / npm test / npm ci): bundles the CLI into dist/bundle/ with esbuild.
// Why: Node resolves, reads and compiles each ES module on its own; cryo's CLI with yargs is ~190
// files and took ~100 ms of every command's start-up before any work — a third of a small dump.
// The CLI is one CommonJS file, main.cjs, so that bin/cryo.cjs can compile it with a V8 code cache
// (Node 20 has none for ES modules): parsing and compiling ~770 KB of JavaScript took ~20 ms of
// every command. What the CLI imports lazily (the engine, the runner) is evaluated only when it is
// first used, as before. koffi (a native addon) and protobufjs (only for a stale schema table)
// stay in node_modules.
import { build, type BuildOptions } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

rmSync(path.join(root, 'dist', 'bundle'), { recursive: true, force: true });

const common: BuildOptions = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Whitespace and syntax only: stack traces of internal errors keep cryo's function names.
  minifyWhitespace: true,
  minifySyntax: true,
  // Non-ASCII characters escaped: bin/cryo.cjs reads the bundle as latin1, which is faster.
  charset: 'ascii',
  external: ['koffi', 'protobufjs'],
  logLevel: 'warning',
};

await Promise.all([
  build({
    ...common,
    entryPoints: ['cli/main.ts'],
    outfile: 'dist/bundle/main.cjs',
    format: 'cjs',
    define: {
      // Intl.Segmenter costs ~12 ms per copy of string-width at load: see lazy-segmenter.ts.
      'Intl.Segmenter': 'LazySegmenter',
      // The modules find their neighbours (the hash workers, schemas/) from their own URL: in the
      // bundle that is main.cjs's, in dist/bundle/ beside the workers.
      'import.meta.url': '__cryoBundleUrl',
    },
    inject: ['cli/lazy-segmenter.ts'],
    // string-width's Unicode regexes cost ~10 ms at load: see text-width.ts.
    alias: { 'string-width': './cli/text-width.ts' },
    banner: { js: 'const __cryoBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  }),
  // The hash workers are Worker entries, loaded by URL next to main.cjs.
  build({
    ...common,
    entryPoints: ['engine/images/hash-worker.ts', 'engine/images/hash-file-worker.ts'],
    outdir: 'dist/bundle',
    format: 'esm',
  }),
]);
