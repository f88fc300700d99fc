#!/usr/bin/env node
// cryo's entry: runs the CLI bundle (npm ci / npm run build make dist/bundle/main.cjs) with a V8
// code cache beside it. Why: compiling the bundle's ~770 KB of JavaScript, and then each function
// as it is first called, took ~35 ms of every command's start-up (a dump of 64 MiB takes ~170 ms
// in all); from the cache it takes ~15 ms. Node 20 keeps no such cache itself.
//
// A cache per command (main.cjs.dump.v8cache, …), since V8 reads a cache whole and a command
// needs only its own code: a JSON header line, then V8's data. It is used only for the same bundle
// on the same Node (SHA-256 of both in the header) and when its own SHA-256 matches, since V8
// checks neither the source's contents nor the data's. It holds the functions that had been
// compiled when the command ended: it is written after the command's first successful run, and
// again if V8 rejects it. CRYO_CODE_CACHE=0 neither reads nor writes it. A directory cryo may not
// write to just goes without.
'use strict';
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

// Set aside by the launcher (bin/cryo) for Node's start only: what cryo runs gets it back.
if (process.env.CRYO_NODE_EXTRA_CA_CERTS !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = process.env.CRYO_NODE_EXTRA_CA_CERTS;
  delete process.env.CRYO_NODE_EXTRA_CA_CERTS;
}

const BUNDLE = path.join(__dirname, '..', 'dist', 'bundle', 'main.cjs');
const MAGIC = 'cryo-v8-code-cache 2';
// The command (options may come before it); anything else (--help, a usage error) shares one cache.
const COMMAND = process.argv.slice(2).find((a) => /^(dump|restore|check|show|validate|plan|run|schema)$/.test(a)) ?? 'none';
const CACHE = `${BUNDLE}.${COMMAND}.v8cache`;

/** V8's data of the cache made for this bundle, Node and command, or undefined. */
function readCache(key) {
  let buf;
  try {
    buf = fs.readFileSync(CACHE);
  } catch {
    return undefined;
  }
  const nl = buf.indexOf(10);
  if (nl < 0 || nl > 4096) return undefined;
  let header;
  try {
    header = JSON.parse(buf.subarray(0, nl).toString('utf8'));
  } catch {
    return undefined;
  }
  if (header?.magic !== MAGIC || header.key !== key) return undefined;
  const data = buf.subarray(nl + 1);
  if (createHash('sha256').update(data).digest('hex') !== header.sha256) return undefined;
  return data;
}

function writeCache(key, data) {
  const header = JSON.stringify({ magic: MAGIC, key, sha256: createHash('sha256').update(data).digest('hex') });
  const tmp = `${CACHE}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${header}\n`), data]), { mode: 0o644 });
    fs.renameSync(tmp, CACHE);
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // nothing was written
    }
  }
}

let bytes;
try {
  bytes = fs.readFileSync(BUNDLE);
} catch (e) {
  process.stderr.write(`Error: cryo is not built (${e.code === 'ENOENT' ? `no ${BUNDLE}` : e.message})\nhint: run \`npm ci\` (or \`npm run build\`) in ${path.dirname(__dirname)}\n`);
  process.exit(1);
}

// The bundle is ASCII (esbuild's charset: 'ascii'): latin1 decodes it ~3× faster than utf8.
const source = bytes.latin1Slice(0, bytes.length);
const useCache = process.env.CRYO_CODE_CACHE !== '0';
const key = useCache ? createHash('sha256').update(bytes).update(`\0${process.version}\0${process.arch}\0${process.execArgv.join(' ')}`).digest('hex') : '';
const cache = useCache ? readCache(key) : undefined;
const script = new vm.Script(Module.wrap(source), { filename: BUNDLE, cachedData: cache });

if (useCache && (cache === undefined || script.cachedDataRejected)) {
  process.on('exit', (code) => {
    // A failed command compiled only part of its path.
    if (code === 0) writeCache(key, script.createCachedData());
  });
}

const bundle = { exports: {} };
script.runInThisContext().call(bundle.exports, bundle.exports, Module.createRequire(BUNDLE), bundle, BUNDLE, path.dirname(BUNDLE));
void bundle.exports.main(process.argv.slice(2));
