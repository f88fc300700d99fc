#!/usr/bin/env node
// `node bin/cryo.js …`: the same as bin/cryo.cjs, which the launcher (bin/cryo) runs directly.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./cryo.cjs');
