#!/usr/bin/env node
// Two libuv threads do the gateway's few async jobs (password checks); each thread that ever ran
// one keeps a malloc arena of its own, so fewer threads keep less memory on a small Pi.
process.env.UV_THREADPOOL_SIZE ??= '2';
const { run } = await import('../dist/src/cli/main.js');

// Exit explicitly — a command is done when run() resolves, whatever handles a library left
// open — but only once stdout has drained, or output piped to another program is cut short.
const code = await run(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
