#!/usr/bin/env node
// Runs Noise test vectors (cacophony format) against @ockam/secure-channel. See src/noise-vectors-cli.ts.
import { main } from '../dist/noise-vectors-cli.js';

process.exitCode = await main(process.argv.slice(2));
