#!/usr/bin/env node
// Container health: healthy only while a gateway runs on the data directory and its store takes
// writes. `sluice status --json` exits 0 even when no gateway runs (it then answers from the
// database itself, with "running": false), so its exit code alone would call a stopped gateway
// healthy; this reads the answer instead.
// Later: once the dashboard serves /healthz on 127.0.0.1:8420, an HTTP GET of that is the check.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/sluice.js', import.meta.url));
const r = spawnSync(process.execPath, [bin, 'status', '--json'], { encoding: 'utf8', timeout: 8000 });

/** @type {{ running?: unknown, store?: unknown, mqtt_port?: unknown }} */
let status = {};
try {
  status = JSON.parse(r.stdout);
} catch {
  console.log(`unhealthy: sluice status failed (exit ${r.status}): ${(r.stderr || r.error?.message || '').trim()}`);
  process.exit(1);
}
if (status.running !== true) {
  console.log('unhealthy: no gateway runs on the data directory');
  process.exit(1);
}
if (status.store !== 'ok') {
  console.log(`unhealthy: store ${String(status.store)}`);
  process.exit(1);
}
console.log(`healthy: gateway running, mqtt port ${String(status.mqtt_port)}`);
