#!/usr/bin/env node
// Two libuv threads do the gateway's few async jobs (password checks); each thread that ever ran
// one keeps a malloc arena of its own, so fewer threads keep less memory on a small Pi.
process.env.UV_THREADPOOL_SIZE ??= '2';
// MALLOC_ARENA_MAX=2, MALLOC_MMAP_THRESHOLD_=131072 and --max-semi-space-size=1 save memory
// (idle `start`: VmHWM 98–100 → 81–88 MiB) but only take effect at process start, and Node 20
// has no exec() that keeps the pid. A re-spawned child would outlive a SIGKILL of this process
// and hold the data-dir lock (its pid), and /proc/<pid> figures would describe this wrapper;
// so the supervisor sets them (docker-compose.yml; Environment= in a systemd unit).
const { run } = await import('../dist/src/cli/main.js');

// Exit explicitly — a command is done when run() resolves, whatever handles a library left
// open — but only once stdout has drained, or output piped to another program is cut short.
const code = await run(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
