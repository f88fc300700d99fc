#!/usr/bin/env node
// Runs the CLI bundle (npm ci / npm run build compile and bundle it into dist/bundle/).
import { main } from '../dist/bundle/main.js';

await main(process.argv.slice(2));
