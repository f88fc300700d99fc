#!/usr/bin/env node
// Runs the CLI bundle (npm ci / npm run build compile and bundle it into dist/bundle/).
// No top-level await: main() reports its own errors and sets the exit code.
import { main } from '../dist/bundle/main.js';

// Set aside by the launcher (bin/cryo) for Node's start only: what cryo runs gets it back.
if (process.env.CRYO_NODE_EXTRA_CA_CERTS !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = process.env.CRYO_NODE_EXTRA_CA_CERTS;
  delete process.env.CRYO_NODE_EXTRA_CA_CERTS;
}

void main(process.argv.slice(2));
