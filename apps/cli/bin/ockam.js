#!/usr/bin/env node
import { main } from '../dist/main.js';

// Exit explicitly: a command is done when main resolves, whatever handles remain.
process.exit(await main(process.argv));
