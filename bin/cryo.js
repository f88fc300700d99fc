#!/usr/bin/env node
// `node bin/cryo.js …`: the same as bin/cryo.cjs, which the launcher (bin/cryo) runs directly.
// CommonJS (bin/package.json), as Node starts its ES module loader for an .mjs or a "type":
// "module" entry, ~5 ms before cryo's first line.
'use strict';
require('./cryo.cjs');
