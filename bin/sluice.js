#!/usr/bin/env node
import { run } from '../dist/src/cli/main.js';

// Exit explicitly — a command is done when run() resolves, whatever handles a library left
// open — but only once stdout has drained, or output piped to another program is cut short.
const code = await run(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
