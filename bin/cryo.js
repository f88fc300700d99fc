#!/usr/bin/env node
// Runs the CLI bundle (npm ci / npm run build compile and bundle it into dist/bundle/).
// No top-level await: main() reports its own errors and sets the exit code.
import { main } from '../dist/bundle/main.js';

void main(process.argv.slice(2));
