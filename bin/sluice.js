#!/usr/bin/env node
import { run } from '../dist/src/cli/main.js';

// Exit explicitly: a command is done when run() resolves, whatever handles a library left open.
process.exit(await run(process.argv.slice(2)));
