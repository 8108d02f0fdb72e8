#!/usr/bin/env node
import { runDaemon } from '../dist/daemon.js';

await runDaemon(process.argv.slice(2));
